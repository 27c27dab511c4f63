import PolicyHubTestSupport

/// Archives `tar` will not make, built with the shared `TarBuilder`.
enum HostileArchives {
    /// One symbolic link entry, next to a manifest.
    static func withLink(named name: String, target: String) -> [UInt8] {
        var tar = TarBuilder()
        tar.file("package/PulumiPolicy.yaml", "runtime")
        tar.add(name, type: "2", linkName: target)
        return tar.gzipped()
    }

    /// One regular file entry, named anything at all.
    static func withEntry(named name: String, contents: String = "x") -> [UInt8] {
        var tar = TarBuilder()
        tar.file(name, contents)
        return tar.gzipped()
    }
}
