import Testing

@testable import PolicyHubConsole

private let rel = #"rel="nofollow noopener noreferrer""#

/// Fails if `html` contains anything that could run script or style in a browser.
private func expectInert(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let lowercased = html.lowercased()
    for forbidden in ["<script", "javascript:", "vbscript:", "data:", "style=", "<style", "<iframe", "<svg", "<img"] {
        #expect(!lowercased.contains(forbidden), "contains \(forbidden): \(html)", sourceLocation: sourceLocation)
    }
    // Event handler attributes can only appear inside tags; text such as "on top" is fine.
    for tag in lowercased.split(separator: "<").map({ $0.prefix { $0 != ">" } }) {
        #expect(!tag.contains(" on"), "event handler in <\(tag)>: \(html)", sourceLocation: sourceLocation)
    }
}

@Suite struct OrdinaryMarkdown {
    @Test func headingsEmphasisAndLists() {
        let markdown = "# Title\n\n## Sub\n\nSome *em* and **strong** text.\n\n- one\n- two\n\n1. a\n2. b\n"
        #expect(
            ConsoleMarkdown.html(markdown)
                == "<h1>Title</h1><h2>Sub</h2><p>Some <em>em</em> and <strong>strong</strong> text.</p>"
                + "<ul><li>one</li><li>two</li></ul><ol><li>a</li><li>b</li></ol>"
        )
    }

    @Test func codeBlockKeepsLanguageClassAndEscapes() {
        #expect(
            ConsoleMarkdown.html("```swift\nlet x = 1 < 2 && true\n```\n")
                == #"<pre><code class="language-swift">let x = 1 &lt; 2 &amp;&amp; true"# + "\n</code></pre>"
        )
        #expect(ConsoleMarkdown.html("`<script>`") == "<p><code>&lt;script&gt;</code></p>")
    }

    @Test func links() {
        #expect(
            ConsoleMarkdown.html("[site](https://example.com) [mail](mailto:a@b.c) [rel](/docs#x) [frag](#top)")
                == #"<p><a href="https://example.com" \#(rel)>site</a> <a href="mailto:a@b.c" \#(rel)>mail</a> "#
                + ##"<a href="/docs#x" \##(rel)>rel</a> <a href="#top" \##(rel)>frag</a></p>"##
        )
    }

    @Test func table() {
        #expect(
            ConsoleMarkdown.html("| A | B | C |\n|:--|--:|:-:|\n| 1 | 2 | 3 |\n")
                == #"<table><thead><tr><th align="left">A</th><th align="right">B</th><th align="center">C</th>"#
                + #"</tr></thead><tbody><tr><td align="left">1</td><td align="right">2</td>"#
                + #"<td align="center">3</td></tr></tbody></table>"#
        )
    }

    @Test func blockquoteRuleAndStrikethrough() {
        #expect(
            ConsoleMarkdown.html("> quote\n\n---\n\n~~del~~")
                == "<blockquote><p>quote</p></blockquote><hr><p><s>del</s></p>"
        )
    }

    @Test func entitiesInText() {
        #expect(
            ConsoleMarkdown.html("Tom & Jerry &amp; &lt;b&gt; &#39; &#x27;")
                == "<p>Tom &amp; Jerry &amp; &lt;b&gt; &#39; &#x27;</p>"
        )
    }

    @Test func imageBecomesItsAltText() {
        #expect(ConsoleMarkdown.html("![a & b](x.png)") == "a &amp; b")
    }

    @Test func allowedInlineHTML() {
        #expect(
            HTMLSanitizer.sanitize("<kbd>K</kbd><sup>1</sup><sub>2</sub><del>d</del><dl><dt>t</dt><dd>d</dd></dl>")
                == "<kbd>K</kbd><sup>1</sup><sub>2</sub><del>d</del><dl><dt>t</dt><dd>d</dd></dl>"
        )
    }
}

@Suite struct HostileMarkdown {
    @Test(arguments: [
        ("<script>alert(1)</script>", ""),
        ("<img src=x onerror=alert(1)>", ""),
        (#"<img src=x alt="<b>hi</b>" onerror=alert(1)>"#, "&lt;b&gt;hi&lt;/b&gt;"),
        ("[x](javascript:alert(1))", "<p><a \(rel)>x</a></p>"),
        ("[x](JaVaScRiPt:alert(1))", "<p><a \(rel)>x</a></p>"),
        ("[x](vbscript:msgbox(1))", "<p><a \(rel)>x</a></p>"),
        ("[x](data:text/html;base64,PHNjcmlwdD4=)", "<p><a \(rel)>x</a></p>"),
        (#"<a href="java&#x09;script:alert(1)">x</a>"#, "<a \(rel)>x</a>"),
        (#"<a href="&#106;avascript:alert(1)">x</a>"#, "<a \(rel)>x</a>"),
        (#"<a href="&#x6A;avascript&colon;alert(1)">x</a>"#, "<a \(rel)>x</a>"),
        (#"<a href=" &#0; javascript:alert(1)">x</a>"#, "<a \(rel)>x</a>"),
        (#"<a href="data:image/png;base64,AAAA">x</a>"#, "<a \(rel)>x</a>"),
        (#"<iframe src="https://evil.example"></iframe>after"#, "<p>after</p>"),
        ("<style>body{}</style>text", "<p>text</p>"),
        ("<svg onload=alert(1)>", ""),
        ("<svg><svg></svg><script>alert(1)</script></svg>ok", "<p>ok</p>"),
        (#"<div style="x" onclick="y">text</div>"#, "text"),
        (#"<a href="x" onmouseover="y">z</a>"#, #"<a href="x" \#(rel)>z</a>"#),
        (#"<a href="x"" onmouseover="y">z</a>"#, #"<a href="x" \#(rel)>z</a>"#),
        (#"<a title='a"b' href=x>z</a>"#, #"<a href="x" title="a&quot;b" \#(rel)>z</a>"#),
        ("<scr<script>ipt>alert(1)</script>", "ipt&gt;alert(1)"),
        ("a <!-- <script>alert(1)</script> --> b", "<p>a  b</p>"),
        ("```x\"onmouseover=alert(1)\ncode\n```", "<pre><code class=\"language-x\">code\n</code></pre>"),
        ("<object data=x><param name=a></object>after", "<p>after</p>"),
        ("<embed src=x>after", "after"),
        ("<template><b>x</b></template>after", "<p>after</p>"),
        ("<math><mi>x</mi></math>", ""),
    ])
    func neutralised(markdown: String, expected: String) {
        let html = ConsoleMarkdown.html(markdown)
        #expect(html == expected)
        expectInert(html)
    }

    @Test(arguments: [
        "<a href=\"",
        "<a href='x' onclick=\"",
        "<scr<script>ipt>alert(1)</scr</script>ipt>",
        "<<script>script>alert(1)<</script>/script>",
        "<script<script>>alert(1)</script>",
        "<SCRIPT SRC=//evil></SCRIPT>",
        "<script/>alert(1)</script>",
        "<img/src=x/onerror=alert(1)>",
        "<a/href=javascript:alert(1)>x</a>",
        "<a href=javascript&#58;alert(1)>x</a>",
        "<a href=\"jav\u{0}ascript:alert(1)\">x</a>",
        "<a href=\"\njavascript:alert(1)\">x</a>",
        "<svg/onload=alert(1)>",
        "<svg><a xlink:href=javascript:alert(1)>x</a></svg>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
        "<textarea><script>alert(1)</script></textarea>",
        "<title><script>alert(1)</script></title>",
        "<p style=\"background:url(javascript:alert(1))\">x</p>",
        "<form><button formaction=javascript:alert(1)>x</button></form>",
        "<a href=\"x\" style=\"x\" onfocus=alert(1) autofocus>x</a>",
        "<div onclick = 'alert(1)' >x</div>",
        "<p onclick=alert(1)>x</p>",
        "<!--><script>alert(1)</script>-->",
        "<!DOCTYPE html><?xml version=\"1.0\"?><![CDATA[<script>alert(1)</script>]]>",
        "<iframe srcdoc=\"<script>alert(1)</script>\">",
        "<a href=\"  JAVASCRIPT:alert(1)\">x</a>",
        "<a href=\"javascript&#x3A;alert(1)\">x</a>",
        "<a href=\"&#x26;#106;avascript:alert(1)\">x</a>",
    ])
    func inert(markdown: String) {
        expectInert(ConsoleMarkdown.html(markdown))
        expectInert(HTMLSanitizer.sanitize(markdown))
    }
}

@Suite struct SanitizerEdgeCases {
    @Test(arguments: [
        ("", ""),
        ("<", "&lt;"),
        ("a <", "a &lt;"),
        ("a < b > c", "a &lt; b &gt; c"),
        ("</", ""),
        ("</>x", "x"),
        ("<a href=\"", ""),
        ("<a href=\"javascript:alert(1)", ""),
        ("<a href='x' title", ""),
        ("<b", ""),
        ("x<b>y", "x<b>y</b>"),
        ("<!-- unterminated", ""),
        ("<!-->x", "x"),
        ("<!--->x", "x"),
        ("<!doctype html>x", "x"),
        ("<?php echo 1 ?>x", "x"),
        ("<![CDATA[x]]>y", "y"),
        ("<script>never closed", ""),
        ("<script>a</scriptx>b</script>c", "c"),
        ("a\u{0}b<b\u{0}>c</b>", "abc"),
        ("<td align=CENTER valign=top>x", #"<td align="center">x</td>"#),
        ("<th align=justify>x</th>", "<th>x</th>"),
        ("<code class=\"language-c++ evil\">x</code>", "<code>x</code>"),
        ("<code class=language-objective_c>x</code>", #"<code class="language-objective_c">x</code>"#),
        ("<code class=\"language-\">x</code>", "<code>x</code>"),
        ("<a href=x href=javascript:alert(1)>y</a>", #"<a href="x" \#(rel)>y</a>"#),
        ("<a href=\"?q=1&amp;r=<2>\">y</a>", #"<a href="?q=1&amp;r=&lt;2&gt;" \#(rel)>y</a>"#),
        ("<a href=HTTPS://x.example/a?b#c>y</a>", #"<a href="HTTPS://x.example/a?b#c" \#(rel)>y</a>"#),
        ("<a href=/a:b>y</a>", #"<a href="/a:b" \#(rel)>y</a>"#),
        ("<a href=foo:bar>y</a>", "<a \(rel)>y</a>"),
        ("<b>bold <i>both</b> tail", "<b>bold <i>both</i></b> tail"),
        ("</p></b>x</i>", "x"),
        ("<p>a<br/>b<br>c</br><hr/>", "<p>a<br>b<br>c<hr></p>"),
        ("<p/>x", "<p>x</p>"),
        ("<P CLASS=x ID=y>x</P>", "<p>x</p>"),
        ("<span>x</span><div><u>y</u></div>", "xy"),
        ("<svg/>after", "after"),
        ("<a title=\"&quot;&lt;&gt;&#39;&amp;\">y</a>", #"<a title="&quot;&lt;&gt;&#39;&amp;" \#(rel)>y</a>"#),
        ("&#0; &#xD800; &#99999999; &unknown; &", "&#0; &#xD800; &amp;#99999999; &unknown; &amp;"),
        ("<img alt=\"&#0;&#xD800;\">", "\u{FFFD}\u{FFFD}"),
    ])
    func sanitized(html: String, expected: String) {
        #expect(HTMLSanitizer.sanitize(html) == expected)
    }

    @Test func deepNestingIsBalanced() {
        let html = String(repeating: "<b><i>", count: 10_000) + String(repeating: "</b>", count: 5_000)
        let expected = String(repeating: "<b><i>", count: 10_000) + String(repeating: "</i></b>", count: 10_000)
        #expect(HTMLSanitizer.sanitize(html) == expected)
    }

    @Test func mebibyteOfHostileInputIsLinear() {
        let pieces = [
            "<a href=\"javascript:x\" onclick=y>", "<b>", "</i>", "<", "&", "&#x6a;", "<!--", "-->", "<script>",
            "</script>", "<svg>", "</svg>", "text ", "\"'", "<img alt=x>", "\u{0}", "<p", " x=", ">",
        ]
        var html = ""
        var index = 0
        while html.utf8.count < 1 << 20 {
            html += pieces[index]
            index = (index * 31 + 7) % pieces.count
        }
        for input in [html, String(repeating: "<a ", count: 350_000), String(repeating: "<b>", count: 350_000)] {
            // Linear: about a second at worst in a debug build, where a quadratic algorithm takes minutes.
            expectInert(HTMLSanitizer.sanitize(input))
        }
    }

    @Test func typicalMebibyteReadmeSanitises() {
        let paragraph = "Some *text* with [a link](https://example.com), `code` and **bold** words in a sentence.\n\n"
        let html = ConsoleMarkdown.html(String(repeating: paragraph, count: (1 << 20) / paragraph.utf8.count))
        #expect(HTMLSanitizer.sanitize(html).hasPrefix("<p>Some <em>text</em>"))
    }

    @Test func mebibyteReadmeRenders() {
        let section = "## Rule\n\nSome *text* with [a link](https://example.com) and `code`.\n\n- item\n\n"
        let markdown = String(repeating: section, count: (1 << 20) / section.utf8.count + 1)
        let html = ConsoleMarkdown.html(markdown)
        #expect(html.hasPrefix("<h2>Rule</h2>"))
    }
}
