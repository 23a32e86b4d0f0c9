/// The zip container of a `torch.save` file (PyTorch ≥ 1.6): stored (uncompressed) records, found
/// through the central directory, ZIP64 end records and extra fields as torch writes them. Nothing
/// but stored, unencrypted, single-disk archives is read; every offset and length is checked against
/// the file before it is used, and records may neither overlap nor share a name.
struct TorchZip {
    struct Record {
        var name: String
        /// Where the record's bytes are in the file.
        var range: Range<Int>
        var crc: UInt32
    }

    var records: [String: Record] = [:]

    /// `fail` turns a reason into the error naming the file.
    static func parse(_ bytes: [UInt8], fail: (String) -> CheckpointError) throws(CheckpointError) -> TorchZip {
        let size = bytes.count
        func integer(_ at: Int, _ width: Int, _ what: String) throws(CheckpointError) -> Int {
            guard at >= 0, at <= size - width else { throw fail("zip: \(what) at byte \(at) lies past the end of the \(size)-byte file") }
            var value: UInt64 = 0
            for i in 0..<width { value |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
            guard value <= UInt64(Int.max >> 1) else { throw fail("zip: \(what) \(value) at byte \(at) is out of range") }
            return Int(value)
        }

        // End of central directory: 22 bytes plus a comment of at most 65535, at the very end.
        var end = -1
        if size >= 22 {
            var at = size - 22
            let lowest = max(0, size - 22 - 65_535)
            while at >= lowest {
                if bytes[at] == 0x50, bytes[at + 1] == 0x4B, bytes[at + 2] == 0x05, bytes[at + 3] == 0x06,
                   try integer(at + 20, 2, "comment length") == size - at - 22 {
                    end = at
                    break
                }
                at -= 1
            }
        }
        guard end >= 0 else { throw fail("zip: no end-of-central-directory record (truncated, or not a torch.save file)") }
        guard try integer(end + 4, 2, "disk number") == 0, try integer(end + 6, 2, "directory disk") == 0 else {
            throw fail("zip: multi-disk archives are not read")
        }
        var count = try integer(end + 10, 2, "entry count")
        var directorySize = try integer(end + 12, 4, "central directory size")
        var directoryOffset = try integer(end + 16, 4, "central directory offset")
        var directoryLimit = end

        // ZIP64: a locator just before the end record points to the ZIP64 end record (torch always writes both).
        if end >= 20, try integer(end - 20, 4, "ZIP64 locator") == 0x0706_4B50 {
            let record = try integer(end - 20 + 8, 8, "ZIP64 end record offset")
            guard record <= end - 20 - 56 else { throw fail("zip: ZIP64 end record offset \(record) is past the locator") }
            guard try integer(record, 4, "ZIP64 end record") == 0x0606_4B50 else {
                throw fail("zip: no ZIP64 end record at byte \(record)")
            }
            guard try integer(record + 16, 4, "ZIP64 disk number") == 0, try integer(record + 20, 4, "ZIP64 directory disk") == 0 else {
                throw fail("zip: multi-disk archives are not read")
            }
            count = try integer(record + 32, 8, "ZIP64 entry count")
            directorySize = try integer(record + 40, 8, "ZIP64 central directory size")
            directoryOffset = try integer(record + 48, 8, "ZIP64 central directory offset")
            directoryLimit = record
        }
        guard directoryOffset <= directoryLimit, directorySize <= directoryLimit - directoryOffset else {
            throw fail("zip: central directory [\(directoryOffset), +\(directorySize)) runs past its end record at byte \(directoryLimit)")
        }
        guard count <= directorySize / 46 else {
            throw fail("zip: \(count) entries cannot fit a \(directorySize)-byte central directory")
        }

        var archive = TorchZip()
        var spans: [(range: Range<Int>, name: String)] = []
        var at = directoryOffset
        let directoryEnd = directoryOffset + directorySize
        for index in 0..<count {
            guard at <= directoryEnd - 46, try integer(at, 4, "central directory entry") == 0x0201_4B50 else {
                throw fail("zip: central directory entry \(index) at byte \(at) is missing or malformed")
            }
            let flags = try integer(at + 8, 2, "flags"), method = try integer(at + 10, 2, "compression method")
            let crc = UInt32(try integer(at + 16, 4, "CRC"))
            var compressed = try integer(at + 20, 4, "compressed size"), uncompressed = try integer(at + 24, 4, "size")
            let nameLength = try integer(at + 28, 2, "name length"), extraLength = try integer(at + 30, 2, "extra length")
            let commentLength = try integer(at + 32, 2, "comment length")
            var local = try integer(at + 42, 4, "local header offset")
            let next = at + 46 + nameLength + extraLength + commentLength
            guard next <= directoryEnd else { throw fail("zip: central directory entry \(index) runs past the directory's end") }
            let name = String(decoding: bytes[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)

            // ZIP64 extra field: the 8-byte values of the fields whose 32-bit copies are 0xFFFFFFFF, in order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = try integer(extra, 2, "extra field id"), length = try integer(extra + 2, 2, "extra field length")
                guard extra + 4 + length <= extraEnd else { throw fail("zip: '\(name)': extra field runs past its entry") }
                if id == 0x0001 {
                    var field = extra + 4
                    func wide(_ value: inout Int, _ what: String) throws(CheckpointError) {
                        guard value == 0xFFFF_FFFF else { return }
                        guard field + 8 <= extra + 4 + length else { throw fail("zip: '\(name)': ZIP64 field lacks its \(what)") }
                        value = try integer(field, 8, "ZIP64 \(what)")
                        field += 8
                    }
                    try wide(&uncompressed, "size")
                    try wide(&compressed, "compressed size")
                    try wide(&local, "local header offset")
                }
                extra += 4 + length
            }

            if flags & 0x41 != 0 { throw fail("zip: '\(name)' is encrypted") }
            guard method == 0 else { throw fail("zip: '\(name)' is compressed (method \(method)); torch.save stores records uncompressed") }
            guard compressed == uncompressed else {
                throw fail("zip: '\(name)' is stored with \(compressed) bytes but declares \(uncompressed)")
            }
            // Local header: 30 bytes, its own name and extra field, then the data.
            guard local <= directoryOffset - 30, try integer(local, 4, "local header") == 0x0403_4B50 else {
                throw fail("zip: '\(name)': no local header at byte \(local)")
            }
            let localFlags = try integer(local + 6, 2, "local flags"), localMethod = try integer(local + 8, 2, "local method")
            if localFlags & 0x41 != 0 { throw fail("zip: '\(name)' is encrypted") }
            guard localMethod == 0 else { throw fail("zip: '\(name)' is compressed (method \(localMethod)); torch.save stores records uncompressed") }
            let dataStart = local + 30 + (try integer(local + 26, 2, "local name length")) + (try integer(local + 28, 2, "local extra length"))
            guard dataStart <= directoryOffset, compressed <= directoryOffset - dataStart else {
                throw fail("zip: '\(name)': \(compressed) bytes from byte \(dataStart) run past the records' end at byte \(directoryOffset)")
            }
            guard archive.records[name] == nil else { throw fail("zip: two entries are named '\(name)'") }
            archive.records[name] = Record(name: name, range: dataStart..<(dataStart + compressed), crc: crc)
            spans.append((local..<(dataStart + compressed), name))
            at = next
        }
        spans.sort { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(spans, spans.dropFirst()) where a.range.overlaps(b.range) {
            throw fail("zip: entries '\(a.name)' and '\(b.name)' overlap")
        }
        return archive
    }

    /// CRC-32 (IEEE, reflected), as zip records it.
    static func crc32(_ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        bytes.withUnsafeBufferPointer { buffer in
            crcTable.withUnsafeBufferPointer { table in
                for i in range { crc = table[Int((crc ^ UInt32(buffer[i])) & 0xFF)] ^ (crc >> 8) }
            }
        }
        return ~crc
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
