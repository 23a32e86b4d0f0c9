/// Told, during a backward pass, as each leaf layer's backward finishes: its parameters' gradients
/// are then final for the step. What lets a data-parallel job start summing a bucket of gradients
/// over its ranks while the backward pass goes on through the layers below (as PyTorch's DDP hooks do).
/// Containers call it for every leaf child (through `LayerProfiler.backward`).
public protocol BackwardObserver: AnyObject, Sendable {
    func backwardFinished(_ layer: Layer)
}

/// The observer of the backward passes run inside `observe` (a task-local, for the code that runs in it).
public enum BackwardObserverScope {
    @TaskLocal static var active: (any BackwardObserver)?

    public static func observe<R>(_ observer: any BackwardObserver, _ body: () throws -> R) rethrows -> R {
        try $active.withValue(observer, operation: body)
    }
}
