use crate::body::*;

fn strings(v: &[Vec<u8>]) -> Vec<String> {
    v.iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[test]
fn collects_text_and_attributes_in_document_order() {
    let doc = parse_xml(
        br#"<?xml version="1.0"?><xml><element attribute_name="attribute_value">skeletonkeyword</element><b x="1" y='2'/><c>  spaced  </c></xml>"#,
    )
    .expect("valid");
    assert_eq!(strings(&doc.text), ["skeletonkeyword", "spaced"]);
    assert_eq!(
        strings(&doc.attribute_values),
        ["attribute_value", "1", "2"]
    );
}

#[test]
fn mixed_content_runs_are_separate_values() {
    let doc = parse_xml(b"<r>one<i>two</i>three<!-- c -->four</r>").expect("valid");
    assert_eq!(strings(&doc.text), ["one", "two", "three", "four"]);
}

#[test]
fn predefined_and_character_references_are_decoded() {
    let doc = parse_xml(
        br#"<root><a probe="1234 AS &quot;foobar&quot; FROM t">&lt;script&gt; &#65;&#x42; &amp;</a></root>"#,
    )
    .expect("valid");
    assert_eq!(
        strings(&doc.attribute_values),
        ["1234 AS \"foobar\" FROM t"]
    );
    assert_eq!(strings(&doc.text), ["<script> AB &"]);
}

#[test]
fn cdata_is_text() {
    let doc = parse_xml(b"<r><![CDATA[<b>raw & ready</b>]]></r>").expect("valid");
    assert_eq!(strings(&doc.text), ["<b>raw & ready</b>"]);
}

#[test]
fn dtd_entities_are_never_expanded() {
    let body = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<lolz a="&lol2;">&lol2;&xxe;</lolz>"#;
    let doc = parse_xml(body).expect("parses without expanding");
    assert_eq!(strings(&doc.text), ["&lol2;&xxe;"]);
    assert_eq!(strings(&doc.attribute_values), ["&lol2;"]);
}

#[test]
fn lone_ampersand_is_kept() {
    let doc = parse_xml(b"<r a=\"x & y\">fish & chips</r>").expect("lenient");
    assert_eq!(strings(&doc.text), ["fish & chips"]);
    assert_eq!(strings(&doc.attribute_values), ["x & y"]);
}

#[test]
fn malformed_xml_is_an_error() {
    for bad in [
        "<<",
        "<>",
        "just text",
        "<a>",
        "<a></b>",
        "<a><b></a></b>",
        "<a/><b/>",
        "<a></a>trailing",
        "<a b></a>",
        "<a b=\"1\" b=\"2\"/>",
        "</a>",
    ] {
        assert!(parse_xml(bad.as_bytes()).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn empty_body_is_an_empty_document() {
    for empty in ["", " \r\n\t"] {
        let doc = parse_xml(empty.as_bytes()).expect("empty is fine");
        assert!(doc.text.is_empty() && doc.attribute_values.is_empty());
    }
    // A prolog alone is a document without its root.
    assert!(parse_xml(b"<?xml version=\"1.0\"?>").is_err());
}

#[test]
fn bom_and_prolog_are_accepted() {
    let doc =
        parse_xml(b"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- c -->\n<a>x</a>\n").expect("valid");
    assert_eq!(strings(&doc.text), ["x"]);
}

#[test]
fn deep_nesting_is_linear() {
    let depth = 100_000;
    let body = format!("{}x{}", "<a>".repeat(depth), "</a>".repeat(depth));
    let doc = parse_xml(body.as_bytes()).expect("valid");
    assert_eq!(strings(&doc.text), ["x"]);
}
