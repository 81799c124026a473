//! Property tests: printing round-trips, lists agree with a naive scan, and
//! neither parsing nor evaluation panics on arbitrary input.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use rampart_rules::{
    Ast, Call, CmpOp, EvalScratch, Expr, FieldRef, IpList, Literal, LiteralValue, LogicalOp,
    RequestFields, Rhs, compile, compile_ast, parse,
};

fn lit(value: LiteralValue) -> Literal {
    Literal { value, col: 0 }
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("http.host".to_owned()),
        Just("ip.src".to_owned()),
        Just("ssl".to_owned()),
        Just("http.request.uri.path".to_owned()),
        Just("http.request.body.size".to_owned()),
        "[a-z_][a-z0-9_]{0,6}(\\.[a-z0-9_]{1,4}){0,3}".prop_filter("keyword", |s| s != "not"),
    ]
}

fn field() -> impl Strategy<Value = Expr> {
    (
        field_name(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..6)),
        any::<bool>(),
    )
        .prop_map(|(name, key, star)| {
            Expr::Field(FieldRef {
                name,
                key,
                star,
                col: 0,
            })
        })
}

fn ip_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap())),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap())),
    ]
}

fn literal() -> impl Strategy<Value = LiteralValue> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(LiteralValue::Str),
        any::<i64>().prop_map(LiteralValue::Int),
        any::<bool>().prop_map(LiteralValue::Bool),
        any::<IpAddr>().prop_map(LiteralValue::Ip),
        ip_net().prop_map(LiteralValue::Cidr),
        (any::<i64>(), any::<i64>()).prop_map(|(a, b)| LiteralValue::IntRange(a.min(b), a.max(b))),
    ]
}

fn rhs() -> impl Strategy<Value = Rhs> {
    prop_oneof![
        literal().prop_map(|v| Rhs::Literal(lit(v))),
        proptest::collection::vec(literal(), 0..4).prop_map(|items| Rhs::Set {
            items: items.into_iter().map(lit).collect(),
            col: 0
        }),
        "[a-z_][a-z0-9_]{0,8}".prop_map(|name| Rhs::List { name, col: 0 }),
    ]
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop_oneof![
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge),
        Just(CmpOp::Contains),
        Just(CmpOp::Matches),
        Just(CmpOp::Wildcard),
        Just(CmpOp::StrictWildcard),
        Just(CmpOp::In),
    ]
}

/// Arguments of calls: values, string/integer literals, or conditions.
fn call(inner: BoxedStrategy<Expr>) -> impl Strategy<Value = Expr> {
    let arg = prop_oneof![
        inner,
        proptest::collection::vec(any::<u8>(), 0..6)
            .prop_map(|s| Expr::Literal(lit(LiteralValue::Str(s)))),
        any::<i64>().prop_map(|i| Expr::Literal(lit(LiteralValue::Int(i)))),
    ];
    (
        prop_oneof![Just("lower"), Just("any"), Just("starts_with"), Just("f")],
        proptest::collection::vec(arg, 0..3),
    )
        .prop_map(|(name, args)| {
            Expr::Call(Call {
                name: name.to_owned(),
                args,
                col: 0,
            })
        })
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        field(),
        (field(), cmp_op(), rhs()).prop_map(|(lhs, op, rhs)| {
            // `in` takes sets and lists, the others literals: the parser
            // cannot produce anything else.
            let rhs = match (op, rhs) {
                (CmpOp::In, r @ (Rhs::Set { .. } | Rhs::List { .. })) => r,
                (CmpOp::In, Rhs::Literal(l)) => Rhs::Set {
                    items: vec![l],
                    col: 0,
                },
                (_, Rhs::Literal(l)) => Rhs::Literal(l),
                (_, _) => Rhs::Literal(lit(LiteralValue::Int(1))),
            };
            Expr::Compare {
                lhs: Box::new(lhs),
                op,
                op_col: 0,
                rhs,
            }
        }),
    ];
    leaf.prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            (
                prop_oneof![
                    Just(LogicalOp::And),
                    Just(LogicalOp::Or),
                    Just(LogicalOp::Xor)
                ],
                proptest::collection::vec(inner.clone(), 2..4)
            )
                .prop_map(|(op, operands)| Expr::Logical { op, operands }),
            inner.clone().prop_map(|e| Expr::Not {
                expr: Box::new(e),
                col: 0
            }),
            call(inner.clone()),
            (call(inner), cmp_op()).prop_map(|(lhs, op)| Expr::Compare {
                lhs: Box::new(lhs),
                op,
                op_col: 0,
                rhs: if op == CmpOp::In {
                    Rhs::List {
                        name: "l".into(),
                        col: 0,
                    }
                } else {
                    Rhs::Literal(lit(LiteralValue::Str(b"x".to_vec())))
                },
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printed_ast_parses_back_to_itself(e in expr()) {
        let ast = Ast { expr: e };
        let text = ast.to_string();
        let mut back = parse(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        back.erase_positions();
        prop_assert_eq!(&back, &ast, "{}", text);
        // Compiling a built tree behaves like compiling its text.
        let scheme = common::scheme();
        // (Columns differ: the built tree has none.)
        prop_assert_eq!(
            compile_ast(&ast, &scheme).map(|_| ()).map_err(|e| (e.kind, e.message)),
            compile(&text, &scheme).map(|_| ()).map_err(|e| (e.kind, e.message))
        );
    }

    #[test]
    fn parsing_any_text_never_panics(src in "\\PC{0,80}") {
        if let Err(e) = compile(&src, &common::scheme()) {
            prop_assert!(e.column >= 1 && e.column <= src.chars().count() + 1, "{e}");
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn parsing_rule_like_text_never_panics(
        parts in proptest::collection::vec(prop_oneof![
            Just("http.host"), Just("ip.src"), Just("ssl"), Just(" and "), Just(" or "),
            Just("not "), Just("("), Just(")"), Just(" eq "), Just(" in "), Just("{"), Just("}"),
            Just("\"x\""), Just("r#\"y\"#"), Just("1"), Just("10.0.0.0/8"), Just("::1"),
            Just("$office"), Just("lower("), Just("any("), Just("[*]"), Just("[\"a\"]"),
            Just(","), Just(" matches "), Just("\"(\""), Just(" contains "), Just("8..9"),
            Just("http.request.headers"), Just("len("), Just("!"), Just("=="), Just(" "),
        ], 0..24)
    ) {
        let src: String = parts.concat();
        match compile(&src, &common::scheme()) {
            Ok(rule) => {
                let h = common::default_headers();
                let _ = rule.matches(&common::request(&h), &common::lists(), &mut EvalScratch::new());
            }
            Err(e) => prop_assert!(e.column >= 1 && e.column <= src.chars().count() + 1, "{src}: {e}"),
        }
    }
}

fn probes(nets: &[IpNet], extra: &[IpAddr]) -> Vec<IpAddr> {
    let mut out = extra.to_vec();
    for n in nets {
        out.push(n.network());
        out.push(n.broadcast());
        match n.broadcast() {
            IpAddr::V4(a) => out.push(IpAddr::V4(Ipv4Addr::from(u32::from(a).wrapping_add(1)))),
            IpAddr::V6(a) => out.push(IpAddr::V6(Ipv6Addr::from(u128::from(a).wrapping_add(1)))),
        }
        match n.network() {
            IpAddr::V4(a) => out.push(IpAddr::V4(Ipv4Addr::from(u32::from(a).wrapping_sub(1)))),
            IpAddr::V6(a) => out.push(IpAddr::V6(Ipv6Addr::from(u128::from(a).wrapping_sub(1)))),
        }
    }
    out
}

/// IPv4-mapped IPv6 nets and addresses are canonicalised by the list; the
/// naive reference does not, so keep them out of its inputs.
fn not_mapped(net: &IpNet) -> bool {
    match net {
        IpNet::V6(n) => {
            n.addr().to_ipv4_mapped().is_none() && n.prefix_len() >= 96
                || n.prefix_len() < 96
                    && !n.contains(&"::ffff:0.0.0.0".parse::<Ipv6Addr>().unwrap())
        }
        IpNet::V4(_) => true,
    }
}

fn check_against_naive(nets: Vec<IpNet>, extra: Vec<IpAddr>) -> Result<(), TestCaseError> {
    let nets: Vec<IpNet> = nets.into_iter().filter(not_mapped).collect();
    let list = IpList::from_nets(nets.iter().copied());
    for probe in probes(&nets, &extra) {
        if probe.to_canonical() != probe {
            continue;
        }
        let naive = nets.iter().any(|n| n.contains(&probe));
        prop_assert_eq!(list.contains(probe), naive, "{}", probe);
    }
    // Export and import give the same set.
    let back = IpList::from_text(&list.to_text()).unwrap();
    prop_assert_eq!(
        back.cidrs().collect::<Vec<_>>(),
        list.cidrs().collect::<Vec<_>>()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn small_lists_match_a_naive_scan(
        nets in proptest::collection::vec(ip_net(), 0..40),
        extra in proptest::collection::vec(any::<IpAddr>(), 0..40),
    ) {
        check_against_naive(nets, extra)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Past the index threshold, with nets clustered so buckets hold many.
    #[test]
    fn indexed_lists_match_a_naive_scan(
        nets in proptest::collection::vec(
            prop_oneof![
                (0u32..0x0004_0000, 16u8..=32).prop_map(|(a, l)| IpNet::V4(
                    Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 | a << 8 >> 8), l).unwrap().trunc()
                )),
                ip_net(),
            ],
            4_200..5_000,
        ),
        extra in proptest::collection::vec(any::<IpAddr>(), 0..200),
    ) {
        check_against_naive(nets, extra)?;
    }
}

fn header_map(pairs: &[(u8, Vec<u8>)]) -> HeaderMap {
    const NAMES: [&str; 6] = [
        "accept",
        "user-agent",
        "cookie",
        "referer",
        "x-a",
        "x-forwarded-for",
    ];
    let mut h = HeaderMap::new();
    for (i, v) in pairs {
        let name = HeaderName::from_static(NAMES[usize::from(*i) % NAMES.len()]);
        if let Ok(v) = HeaderValue::from_bytes(v) {
            h.append(name, v);
        }
    }
    h
}

const RULES: &[&str] = &[
    "http.host eq \"a\" or http.host wildcard \"*.b*\" or http.host strict wildcard \"*\"",
    "lower(url_decode(http.request.uri)) contains \"/admin\"",
    "upper(http.request.uri.path) matches \"^/(A|B)+$\" xor ssl",
    "len(url_decode(http.request.uri.query)) gt 10 and not rampart.bot.verified",
    "any(lower(http.request.headers[\"accept\"][*]) contains \"json\")",
    "all(http.request.uri.args[\"x\"][*] in {\"1\" \"2\"})",
    "any(url_decode(http.request.uri.args[\"%78\"][*]) eq \"\\xff\")",
    "len(http.request.uri.args[\"x\"]) ge 2 or len(http.request.headers[\"x-a\"]) eq 1",
    "ip.src in $office or ip.src in {10.0.0.0/8 ::/0} or ip.src eq ::1",
    "ip.src.country in {\"US\"} and ip.src.asnum in {1..100 200}",
    "http.request.body.size gt 9223372036854775806",
    "starts_with(http.cookie, \"a\") or ends_with(http.user_agent, \"b\")",
    "http.referer lt \"m\" and http.request.version ne \"HTTP/2\" and rampart.client.clearance",
    "http.request.method in {\"GET\" \"POST\"} && !(ssl)",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn evaluation_never_panics(
        ip in any::<IpAddr>(),
        country in proptest::option::of(any::<[u8; 2]>()),
        asn in proptest::option::of(any::<u32>()),
        strings in proptest::collection::vec("\\PC{0,30}|[%+a-z0-9=&]{0,30}", 7),
        cookie in proptest::option::of("\\PC{0,20}"),
        headers in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..20)), 0..8),
        flags in any::<[bool; 4]>(),
        body_size in any::<u64>(),
    ) {
        let h = header_map(&headers);
        let s = |i: usize| strings.get(i).map_or("", String::as_str);
        let req = RequestFields {
            ip, country, asn,
            host: s(0), method: s(1), uri: s(2), path: s(3), query: s(4), version: s(5),
            headers: &h,
            cookie: cookie.as_deref(),
            ssl: flags[0], body_size, bot_verified: flags[1], clearance: flags[2], response_code: 0,
        };
        let scheme = common::scheme();
        let lists = common::lists();
        let mut scratch = EvalScratch::new();
        for src in RULES {
            let rule = compile(src, &scheme).unwrap();
            let first = rule.matches(&req, &lists, &mut scratch);
            // Evaluation is a pure function of the request.
            prop_assert_eq!(rule.matches(&req, &lists, &mut scratch), first, "{}", src);
        }
    }
}
