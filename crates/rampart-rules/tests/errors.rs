//! Parse and type errors: the column, the kind and the message people read;
//! hostile input becomes an error, never a panic or a stack overflow.

mod common;

use rampart_rules::{ErrorKind, Limits, RuleError, Scheme, compile, parse};

fn err(src: &str) -> RuleError {
    match compile(src, &common::scheme()) {
        Ok(_) => panic!("`{src}` compiled"),
        Err(e) => e,
    }
}

fn assert_err(src: &str, column: usize, kind: ErrorKind, message: &str) {
    let e = err(src);
    assert_eq!(
        (e.column, e.kind, e.message.as_str()),
        (column, kind, message),
        "{src}"
    );
}

#[test]
fn messages_from_the_spec() {
    assert_err(
        "http.host contains 3",
        20,
        ErrorKind::Type,
        "expected a string after `contains`, found integer 3",
    );
    assert_err(
        "http.request.urii eq \"/\"",
        1,
        ErrorKind::UnknownField,
        "unknown field `http.request.urii`; did you mean `http.request.uri`?",
    );
    assert_err(
        "ssl and http.request.uri.path matches \"(\"",
        39,
        ErrorKind::Regex,
        "`matches` needs a valid regular expression: unclosed group",
    );
    assert_err(
        "not ip.src in $ofice",
        15,
        ErrorKind::UnknownList,
        "list `$ofice` does not exist; did you mean `$office`?",
    );
    assert_err(
        "ip.src in $nowhere",
        11,
        ErrorKind::UnknownList,
        "list `$nowhere` does not exist",
    );
    assert_err(
        "ip.src contains \"1.2\"",
        8,
        ErrorKind::Type,
        "`ip.src` is an IP address: compare it with `in {…}`, `eq` or a list, not `contains`",
    );
}

#[test]
fn syntax_errors_point_at_the_problem() {
    assert_err("", 1, ErrorKind::Syntax, "the expression is empty");
    assert_err(
        "ssl and",
        8,
        ErrorKind::Syntax,
        "expected a field, a function or `(`, found the end of the expression",
    );
    assert_err(
        "(ssl",
        5,
        ErrorKind::Syntax,
        "expected `)` to close the `(` at column 1, found the end of the expression",
    );
    assert_err(
        "ssl ssl",
        5,
        ErrorKind::Syntax,
        "expected `and`, `or`, `xor` or the end of the expression, found `ssl`",
    );
    assert_err(
        "http.host eq",
        13,
        ErrorKind::Syntax,
        "expected a value after `eq`, found the end of the expression",
    );
    assert_err(
        "http.host eq \"abc",
        14,
        ErrorKind::Syntax,
        "this string is never closed",
    );
    assert_err(
        "http.host matches \"\\d+\"",
        20,
        ErrorKind::Syntax,
        "unknown escape `\\d` (known: \\\" \\\\ \\n \\r \\t \\xHH); for regular expressions use a raw string, r\"…\"",
    );
    assert_err(
        "ip.src in 10.0.0.0/8",
        11,
        ErrorKind::Syntax,
        "expected a set `{…}` or a list `$name` after `in`, found `10.0.0.0/8`",
    );
    assert_err(
        "ip.src in {10.0.0.0/8",
        11,
        ErrorKind::Syntax,
        "this set is never closed: expected `}`",
    );
    assert_err(
        "ip.src eq 10.0.0.300",
        11,
        ErrorKind::Syntax,
        "`10.0.0.300` is not a valid integer, range, IP address or CIDR",
    );
    assert_err(
        "http.host eq http.referer",
        14,
        ErrorKind::Syntax,
        "`http.referer` is not a value; the right side of a comparison must be a literal, a set `{…}` or a `$list`, not a field",
    );
    assert_err(
        "http.request.body.size gt 99999999999999999999",
        27,
        ErrorKind::Syntax,
        "`99999999999999999999` is out of range for a 64-bit integer",
    );
    assert_err(
        "http.host strict eq \"x\"",
        11,
        ErrorKind::Syntax,
        "`strict` must be followed by `wildcard`",
    );
    assert_err(
        "lower(http.host \"x\")",
        17,
        ErrorKind::Syntax,
        "expected `,` or `)` in the arguments of `lower(…)`, found a string",
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    // "é" is two bytes but one column.
    assert_err(
        "http.host eq \"é\" and http.host contains 3",
        41,
        ErrorKind::Type,
        "expected a string after `contains`, found integer 3",
    );
}

#[test]
fn type_errors() {
    assert_err(
        "http.request.body.size contains \"1\"",
        24,
        ErrorKind::Type,
        "`http.request.body.size` is an integer: compare it with `eq`, `ne`, `lt`, `le`, `gt`, `ge` or `in {…}`, not `contains`",
    );
    assert_err(
        "http.request.body.size gt \"1\"",
        27,
        ErrorKind::Type,
        "expected an integer after `gt`, found string \"1\"",
    );
    assert_err(
        "http.host",
        1,
        ErrorKind::Type,
        "`http.host` is a string, not a condition: compare it with an operator, as in `http.host eq …`",
    );
    assert_err(
        "ssl contains \"x\"",
        5,
        ErrorKind::Type,
        "`ssl` is a boolean: use it alone (`ssl`, `not ssl`) or with `eq true`/`eq false`, not `contains`",
    );
    assert_err(
        "ssl eq 1",
        8,
        ErrorKind::Type,
        "expected `true` or `false` after `eq`, found integer 1",
    );
    assert_err(
        "ip.src eq 10.0.0.0/8",
        11,
        ErrorKind::Type,
        "`eq` compares one address; for the network use `ip.src in {10.0.0.0/8}`",
    );
    assert_err(
        "ip.src in {10.0.0.1 \"x\"}",
        21,
        ErrorKind::Type,
        "this set must hold only IP addresses and CIDRs, found string \"x\"",
    );
    assert_err(
        "http.host in $office",
        14,
        ErrorKind::Type,
        "lists hold IP addresses, but `http.host` is a string",
    );
    assert_err(
        "http.request.headers[\"accept\"] contains \"json\"",
        1,
        ErrorKind::Type,
        "`http.request.headers[\"accept\"]` is an array of strings: compare its elements with `any(http.request.headers[\"accept\"][*] contains …)` or `all(…)`",
    );
    assert_err(
        "http.request.headers eq \"x\"",
        1,
        ErrorKind::Type,
        "`http.request.headers` needs a name, as in `http.request.headers[\"name\"]`",
    );
    assert_err(
        "http.host[\"x\"] eq \"x\"",
        1,
        ErrorKind::Type,
        "`http.host` is a string, not a map or array: `[…]` applies to `http.request.headers` and `http.request.uri.args`",
    );
    assert_err(
        "http.request.headers[\"a\"][*] eq \"x\"",
        1,
        ErrorKind::Type,
        "`[*]` can only be used inside `any(…)` or `all(…)`",
    );
    assert_err(
        "any(http.request.headers[\"bad name\"][*] eq \"x\")",
        5,
        ErrorKind::Type,
        "\"bad name\" is not a valid header name",
    );
    assert_err(
        "any(http.host eq \"x\")",
        5,
        ErrorKind::Type,
        "`any(…)` needs an array element: use `[*]`, as in `any(http.request.headers[\"accept\"][*] contains \"json\")`",
    );
    assert_err(
        "any(http.request.headers[\"a\"][*] eq http.request.uri.args[\"b\"][*])",
        37,
        ErrorKind::Syntax,
        "`http.request.uri.args` is not a value; the right side of a comparison must be a literal, a set `{…}` or a `$list`, not a field",
    );
    assert_err(
        "any(starts_with(http.request.headers[\"a\"][*], \"x\") and http.request.uri.args[\"b\"][*] eq \"y\")",
        56,
        ErrorKind::Type,
        "one `any(…)` or `all(…)` can read only one array with `[*]`",
    );
    assert_err(
        "any(any(http.request.headers[\"a\"][*] eq \"x\"))",
        5,
        ErrorKind::Type,
        "`any(…)` cannot be used inside `any(…)` or `all(…)`",
    );
}

#[test]
fn function_errors() {
    assert_err(
        "lowr(http.host) eq \"x\"",
        1,
        ErrorKind::UnknownFunction,
        "unknown function `lowr`; did you mean `lower`? (functions: lower, upper, len, starts_with, ends_with, url_decode, any, all)",
    );
    assert_err(
        "lower(http.host, \"x\") eq \"x\"",
        1,
        ErrorKind::Type,
        "`lower` takes 1 argument, found 2",
    );
    assert_err(
        "starts_with(http.host) ",
        1,
        ErrorKind::Type,
        "`starts_with` takes 2 arguments, found 1",
    );
    assert_err(
        "lower(ip.src) eq \"x\"",
        7,
        ErrorKind::Type,
        "`lower` needs a string, but `ip.src` is an IP address",
    );
    assert_err(
        "starts_with(http.host, http.referer)",
        24,
        ErrorKind::Type,
        "the second argument of `starts_with` must be a string literal, found `http.referer`",
    );
    assert_err(
        "len(ssl) eq 1",
        5,
        ErrorKind::Type,
        "`len` needs a string or an array, but `ssl` is a boolean",
    );
    assert_err(
        "lower eq \"x\"",
        1,
        ErrorKind::Syntax,
        "`lower` is a function: call it as `lower(…)`",
    );
}

#[test]
fn hostile_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [65, 1_000, 8_000] {
        let src = "(".repeat(depth) + "ssl" + &")".repeat(depth);
        let e = parse(&src).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooComplex, "{depth}");
        assert_eq!(e.message, "the expression nests deeper than 64 levels");
        let src = "not ".repeat(depth) + "ssl";
        assert_eq!(parse(&src).unwrap_err().kind, ErrorKind::TooComplex);
        let src = "lower(".repeat(depth) + "http.host" + &")".repeat(depth) + " eq \"x\"";
        assert_eq!(parse(&src).unwrap_err().kind, ErrorKind::TooComplex);
    }
    // 64 levels are fine.
    let src = "(".repeat(63) + "ssl" + &")".repeat(63);
    assert!(compile(&src, &Scheme::new()).is_ok());
}

#[test]
fn hostile_size_is_an_error() {
    let huge_set = format!(
        "ip.src.asnum in {{{}}}",
        (0..10_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let e = err(&huge_set);
    assert_eq!(e.kind, ErrorKind::TooComplex);
    assert_eq!(
        e.message,
        format!(
            "the expression is {} bytes long; the limit is 16384",
            huge_set.len()
        )
    );
    // A long flat chain within the size limit parses without recursion.
    let chain = vec!["ssl"; 2_000].join(" and ");
    assert!(compile(&chain, &Scheme::new()).is_ok());
    // Larger limits are the operator's choice.
    let mut scheme = Scheme::new();
    scheme.set_limits(Limits {
        max_len: 1 << 20,
        ..Limits::DEFAULT
    });
    assert!(compile(&huge_set, &scheme).is_ok());
}

#[test]
fn huge_regex_is_rejected_at_compile_time() {
    let e = err("http.user_agent matches \"\\\\w{1000}\\\\w{1000}\"");
    assert_eq!(e.kind, ErrorKind::Regex);
    assert_eq!(e.column, 25);
    assert!(
        e.message.starts_with(
            "`matches` needs a valid regular expression: the pattern compiles to more than the"
        ),
        "{}",
        e.message
    );
    let e = err("http.user_agent matches r\"(((a{100}){100}){100})\"");
    assert_eq!(e.kind, ErrorKind::Regex);
}

#[test]
fn display_includes_the_column() {
    assert_eq!(
        err("http.host contains 3").to_string(),
        "column 20: expected a string after `contains`, found integer 3"
    );
}

#[test]
fn too_many_patterns() {
    let src = vec!["http.host matches \"a\""; 33].join(" or ");
    let e = err(&src);
    assert_eq!(e.kind, ErrorKind::TooComplex);
    assert_eq!(
        e.message,
        "an expression may hold at most 32 `matches`/`wildcard` patterns"
    );
    let src = vec!["http.host wildcard \"*a\""; 32].join(" or ");
    assert!(compile(&src, &common::scheme()).is_ok());
}

#[test]
fn long_unknown_names_get_no_suggestion() {
    let name = "x".repeat(5_000);
    let e = err(&format!("ip.src in ${name}"));
    assert_eq!(e.message, format!("list `${name}` does not exist"));
}
