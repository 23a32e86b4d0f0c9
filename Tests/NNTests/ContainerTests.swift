import NN
import Tensor
import XCTest

/// Walking a network follows `children`: the containers list theirs, and a new container need do
/// nothing more to be walked and counted as a container.
final class ContainerTests: XCTestCase {
    /// A container that says nothing but its children.
    private final class Pair: Layer {
        let first: Layer, second: Layer
        init(_ first: Layer, _ second: Layer) { self.first = first; self.second = second }
        var children: [Layer] { [first, second] }
        func forward(_ x: Tensor, mode: Mode) -> Tensor { second.forward(first.forward(x, mode: mode), mode: mode) }
        func backward(_ dy: Tensor) -> Tensor { first.backward(second.backward(dy)) }
    }

    func testWalksFollowChildrenDepthFirst() {
        let a = ReLU(), b = Flatten(), shortcut = ReLU(), activation = ReLU(), e = Flatten()
        let body = Sequential([a, b])
        let residual = Residual(body: body, shortcut: shortcut, activation: activation)
        let branches = ConcatenatedBranches(named: [("x", residual), ("y", e)])
        let empty = Sequential([])
        let pair = Pair(branches, empty)

        var visited: [ObjectIdentifier] = []
        pair.forEachLayer { visited.append(ObjectIdentifier($0)) }
        let expected: [Layer] = [pair, branches, residual, body, a, b, shortcut, activation, e, empty]
        XCTAssertEqual(visited, expected.map { ObjectIdentifier($0) })

        XCTAssertTrue(pair.isContainer, "having children makes a container")
        XCTAssertTrue(empty.isContainer, "an empty Sequential is still one")
        let containers: [Layer] = [body, residual, branches]
        XCTAssertEqual(containers.map { $0.isContainer }, [true, true, true])
        XCTAssertFalse(a.isContainer)
        XCTAssertTrue(a.children.isEmpty)
    }
}
