/// The kind of a tar entry, as far as policy packs are concerned.
enum TarEntryType: Equatable {
    case regularFile
    case directory
    case symbolicLink
    case hardLink
    /// Devices, FIFOs, sparse files, unknown vendor types…; carries the type flag byte.
    case unsupported(UInt8)
}

/// One entry's header, after GNU long-name/long-link and pax extended headers have been applied.
struct TarEntryHeader {
    /// Raw entry name bytes (not yet validated or normalised).
    var name: [UInt8]
    /// Raw link target bytes for symbolic and hard links.
    var linkName: [UInt8]
    var type: TarEntryType
    /// Number of payload bytes that follow the header (0 for directories and links).
    var size: Int64
    /// Permission bits from the header.
    var mode: UInt32
}

/// What ``TarReader`` reports while it is fed.
enum TarEvent {
    /// A new entry starts. Its payload (if any) follows as `data` events, then `endOfEntry`.
    case entry(TarEntryHeader)
    /// A piece of the current entry's payload, valid only during the callback.
    case data(UnsafeRawBufferPointer)
    case endOfEntry
    /// Two zero blocks were seen; anything after them is ignored.
    case endOfArchive
}

/// Streaming tar parser: a state machine over 512-byte blocks that accepts input split at arbitrary boundaries and
/// never buffers more than one header block, except for GNU long names and pax extended headers (capped at 1 MiB).
///
/// Understands v7, ustar (name + prefix), GNU (long names 'L', long links 'K', base-256 numbers) and pax ('x'
/// records `path`, `linkpath`, `size`; global headers 'g' are skipped).
struct TarReader {
    static let blockSize = 512
    static let maxMetadataSize = 1 << 20

    private enum State {
        /// Collecting the next header block.
        case header
        /// Inside the current entry's payload.
        case payload(remaining: Int64, padding: Int)
        /// Collecting the payload of a metadata entry ('L', 'K' or 'x').
        case metadata(type: UInt8, remaining: Int, padding: Int)
        /// Skipping padding or ignored payload.
        case skip(remaining: Int64)
        /// After the end-of-archive marker.
        case ended
    }

    private var state = State.header
    private var block = [UInt8](repeating: 0, count: TarReader.blockSize)
    private var blockFill = 0
    private var metadata: [UInt8] = []
    private var sawZeroBlock = false
    /// Offset in the decompressed stream of the next byte to be fed, for error messages.
    private var offset: Int64 = 0
    /// Name of the entry whose payload is being read, for error messages.
    private var currentName = ""

    private var longName: [UInt8]?
    private var longLinkName: [UInt8]?
    private var paxPath: [UInt8]?
    private var paxLinkPath: [UInt8]?
    private var paxSize: Int64?
    private var paxSparse = false

    /// Feeds decompressed tar bytes; `handler` is called synchronously for each event.
    mutating func feed(_ input: UnsafeRawBufferPointer, _ handler: (TarEvent) throws -> Void) throws {
        guard let base = input.baseAddress else { return }
        var position = 0
        while position < input.count {
            let available = input.count - position
            switch state {
            case .header:
                let count = min(Self.blockSize - blockFill, available)
                block.withUnsafeMutableBytes { destination in
                    destination.baseAddress!.advanced(by: blockFill).copyMemory(from: base + position, byteCount: count)
                }
                blockFill += count
                position += count
                offset += Int64(count)
                if blockFill == Self.blockSize {
                    blockFill = 0
                    try processHeaderBlock(handler)
                }
            case .payload(let remaining, let padding):
                let count = Int(min(remaining, Int64(available)))
                let piece = UnsafeRawBufferPointer(start: base + position, count: count)
                position += count
                offset += Int64(count)
                if remaining == Int64(count) {
                    state = padding > 0 ? .skip(remaining: Int64(padding)) : .header
                    try handler(.data(piece))
                    try handler(.endOfEntry)
                } else {
                    state = .payload(remaining: remaining - Int64(count), padding: padding)
                    try handler(.data(piece))
                }
            case .metadata(let type, let remaining, let padding):
                let count = min(remaining, available)
                metadata.append(contentsOf: UnsafeRawBufferPointer(start: base + position, count: count))
                position += count
                offset += Int64(count)
                if remaining == count {
                    state = padding > 0 ? .skip(remaining: Int64(padding)) : .header
                    try applyMetadata(type: type)
                } else {
                    state = .metadata(type: type, remaining: remaining - count, padding: padding)
                }
            case .skip(let remaining):
                let count = Int(min(remaining, Int64(available)))
                position += count
                offset += Int64(count)
                state = remaining == Int64(count) ? .header : .skip(remaining: remaining - Int64(count))
            case .ended:
                offset += Int64(available)
                position = input.count
            }
        }
    }

    /// Call at the end of the input. The archive may end at any header boundary (with or without the end-of-archive
    /// marker); ending inside a header, an entry's data or its padding is an error.
    func finish() throws(ArchiveProblem) {
        switch state {
        case .ended:
            return
        case .header:
            if blockFill != 0 {
                throw .corruptTar("the archive ends in the middle of a header")
            }
        case .payload:
            throw .corruptTar("entry '\(ArchiveProblem.displayable(currentName))' is truncated")
        case .metadata:
            throw .corruptTar("the archive ends in the middle of an extended header")
        case .skip:
            throw .corruptTar("the archive ends in the middle of a block")
        }
    }

    // MARK: - Headers

    private mutating func processHeaderBlock(_ handler: (TarEvent) throws -> Void) throws {
        let headerOffset = offset - Int64(Self.blockSize)
        if block.allSatisfy({ $0 == 0 }) {
            if sawZeroBlock {
                state = .ended
                try handler(.endOfArchive)
            } else {
                sawZeroBlock = true
            }
            return
        }
        if sawZeroBlock {
            throw ArchiveProblem.corruptTar("unexpected header after an end-of-archive block at offset \(headerOffset)")
        }
        guard checksumMatches() else {
            throw ArchiveProblem.corruptTar("header checksum mismatch at offset \(headerOffset)")
        }
        let typeFlag = block[156]
        let headerSize = try number(at: 124, length: 12, field: "size", headerOffset: headerOffset)

        switch typeFlag {
        case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"), UInt8(ascii: "g"):
            guard headerSize <= Int64(Self.maxMetadataSize) else {
                throw ArchiveProblem.corruptTar("extended header at offset \(headerOffset) is too large")
            }
        default:
            break
        }
        switch typeFlag {
        case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"):
            let size = Int(headerSize)
            metadata.removeAll(keepingCapacity: true)
            if size > 0 {
                state = .metadata(type: typeFlag, remaining: size, padding: Self.padding(for: headerSize))
            } else {
                state = .header
                try applyMetadata(type: typeFlag)
            }
            return
        case UInt8(ascii: "g"):
            // pax global header: ignored.
            let total = headerSize + Int64(Self.padding(for: headerSize))
            state = total > 0 ? .skip(remaining: total) : .header
            return
        default:
            break
        }

        let ustar = block[257..<263].elementsEqual("ustar\0".utf8)
        var name = longName ?? fieldBytes(at: 0, length: 100)
        if longName == nil, ustar {
            let prefix = fieldBytes(at: 345, length: 155)
            if !prefix.isEmpty { name = prefix + [UInt8(ascii: "/")] + name }
        }
        if let paxPath { name = paxPath }
        let linkName = paxLinkPath ?? longLinkName ?? fieldBytes(at: 157, length: 100)
        let size = paxSize ?? headerSize
        let sparse = paxSparse
        longName = nil
        longLinkName = nil
        paxPath = nil
        paxLinkPath = nil
        paxSize = nil
        paxSparse = false

        let type: TarEntryType
        switch typeFlag {
        case UInt8(ascii: "0"), 0:
            // Old archives mark directories with a trailing slash on an untyped entry.
            type = typeFlag == 0 && name.last == UInt8(ascii: "/") ? .directory : .regularFile
        case UInt8(ascii: "5"): type = .directory
        case UInt8(ascii: "2"): type = .symbolicLink
        case UInt8(ascii: "1"): type = .hardLink
        default: type = .unsupported(typeFlag)
        }
        let entryType = sparse ? TarEntryType.unsupported(typeFlag) : type
        // Like other readers, treat directories and links as header-only whatever their size field says.
        let payload: Int64
        switch entryType {
        case .directory, .symbolicLink, .hardLink: payload = 0
        case .regularFile, .unsupported: payload = size
        }
        let mode = UInt32(truncatingIfNeeded: try number(at: 100, length: 8, field: "mode", headerOffset: headerOffset))
        let header = TarEntryHeader(name: name, linkName: linkName, type: entryType, size: payload, mode: mode)
        currentName = String(decoding: name, as: UTF8.self)
        if payload > 0 {
            state = .payload(remaining: payload, padding: Self.padding(for: payload))
            try handler(.entry(header))
        } else {
            state = .header
            try handler(.entry(header))
            try handler(.endOfEntry)
        }
    }

    private static func padding(for size: Int64) -> Int {
        Int((Int64(blockSize) - size % Int64(blockSize)) % Int64(blockSize))
    }

    /// Verifies the header checksum: the sum of all header bytes with the checksum field counted as spaces, as
    /// unsigned bytes (POSIX) or signed bytes (some historic tars).
    private func checksumMatches() -> Bool {
        guard let stored = Self.parseNumber(block[148..<156]) else { return false }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (index, byte) in block.enumerated() {
            let value = (148..<156).contains(index) ? UInt8(ascii: " ") : byte
            unsigned += Int64(value)
            signed += Int64(Int8(bitPattern: value))
        }
        return stored == unsigned || stored == signed
    }

    /// The bytes of a NUL-terminated (or full-length) string field.
    private func fieldBytes(at start: Int, length: Int) -> [UInt8] {
        let field = block[start..<start + length]
        if let end = field.firstIndex(of: 0) {
            return Array(field[start..<end])
        }
        return Array(field)
    }

    private func number(at start: Int, length: Int, field: String, headerOffset: Int64) throws(ArchiveProblem)
        -> Int64
    {
        guard let value = Self.parseNumber(block[start..<start + length]) else {
            throw .corruptTar("invalid \(field) field in the header at offset \(headerOffset)")
        }
        return value
    }

    /// Parses a numeric header field: octal digits surrounded by spaces/NULs, or GNU base-256 (high bit of the first
    /// byte set, big-endian, non-negative values only).
    static func parseNumber(_ field: ArraySlice<UInt8>) -> Int64? {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            guard first == 0x80 else { return nil }  // negative or malformed
            var value: Int64 = 0
            for byte in field.dropFirst() {
                guard value <= (Int64.max >> 8) else { return nil }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        let isPadding = { (byte: UInt8) in byte == 0 || byte == UInt8(ascii: " ") }
        guard let start = field.firstIndex(where: { !isPadding($0) }) else { return 0 }
        let end = field.lastIndex(where: { !isPadding($0) })! + 1
        var value: Int64 = 0
        for byte in field[start..<end] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7"), value <= (Int64.max >> 3) else {
                return nil
            }
            value = value << 3 | Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }

    // MARK: - Metadata entries

    private mutating func applyMetadata(type: UInt8) throws(ArchiveProblem) {
        switch type {
        case UInt8(ascii: "L"):
            longName = Self.trimmingNULs(metadata)
        case UInt8(ascii: "K"):
            longLinkName = Self.trimmingNULs(metadata)
        default:
            try parsePaxRecords()
        }
        metadata.removeAll(keepingCapacity: true)
    }

    private static func isDecimalDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func trimmingNULs(_ bytes: [UInt8]) -> [UInt8] {
        if let end = bytes.firstIndex(of: 0) {
            return Array(bytes[..<end])
        }
        return bytes
    }

    /// Parses pax records of the form "<length> <key>=<value>\n".
    private mutating func parsePaxRecords() throws(ArchiveProblem) {
        let malformed = ArchiveProblem.corruptTar("malformed pax extended header")
        var index = 0
        while index < metadata.count {
            if metadata[index] == 0 { break }  // some writers pad with NULs
            var length = 0
            var cursor = index
            while cursor < metadata.count, Self.isDecimalDigit(metadata[cursor]) {
                length = length * 10 + Int(metadata[cursor] - UInt8(ascii: "0"))
                guard length <= metadata.count else { throw malformed }
                cursor += 1
            }
            let recordEnd = index + length
            guard cursor > index, cursor < metadata.count, metadata[cursor] == UInt8(ascii: " "),
                recordEnd <= metadata.count, recordEnd > cursor + 1, metadata[recordEnd - 1] == UInt8(ascii: "\n")
            else { throw malformed }
            let record = metadata[(cursor + 1)..<(recordEnd - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else { throw malformed }
            let key = String(decoding: record[..<equals], as: UTF8.self)
            let value = Array(record[(equals + 1)...])
            switch key {
            case "path":
                paxPath = value.isEmpty ? nil : value
            case "linkpath":
                paxLinkPath = value.isEmpty ? nil : value
            case "size":
                guard !value.isEmpty, value.count <= 18,
                    value.allSatisfy(Self.isDecimalDigit),
                    let size = Int64(String(decoding: value, as: UTF8.self))
                else { throw ArchiveProblem.corruptTar("invalid size in pax extended header") }
                paxSize = size
            default:
                if key.hasPrefix("GNU.sparse.") { paxSparse = true }
            }
            index = recordEnd
        }
    }
}
