import Foundation

/// Foundation's file errors as one line naming the path and the reason
/// (`results/x: cannot create folder: Permission denied`) instead of `Error Domain=NSCocoaErrorDomain
/// Code=513 ... UserInfo={...}`. Every other error passes through as it is.
struct OneLineError: Error, CustomStringConvertible {
    let description: String

    static func wrapping(_ error: Error) -> Error {
        let nsError = error as NSError
        guard nsError.domain == NSCocoaErrorDomain || nsError.domain == NSPOSIXErrorDomain else { return error }
        let path = (nsError.userInfo[NSFilePathErrorKey] as? String)
            ?? (nsError.userInfo[NSURLErrorKey] as? URL)?.path
        var reason: String
        if let underlying = (nsError.userInfo[NSUnderlyingErrorKey] as? Error).map({ $0 as NSError }), underlying.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(underlying.code)))
        } else if nsError.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(nsError.code)))
        } else {
            switch nsError.code {
            case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: reason = "Permission denied"
            case NSFileNoSuchFileError, NSFileReadNoSuchFileError: reason = "No such file or directory"
            case NSFileWriteOutOfSpaceError: reason = "No space left on device"
            case NSFileWriteVolumeReadOnlyError: reason = "Read-only file system"
            case NSFileWriteFileExistsError: reason = "File exists"
            default: reason = nsError.localizedDescription
            }
        }
        reason = reason.replacingOccurrences(of: "\n", with: " ")
        return OneLineError(description: path.map { "\($0): \(reason)" } ?? reason)
    }
}
