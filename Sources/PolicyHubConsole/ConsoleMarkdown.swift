import Ink

/// Markdown from a pack (hostile input) as HTML safe to embed in a page.
enum ConsoleMarkdown {
    static func html(_ markdown: String) -> String {
        // Ink copies raw HTML from the Markdown verbatim, so its output is as hostile as its input.
        HTMLSanitizer.sanitize(MarkdownParser().html(from: markdown))
    }
}
