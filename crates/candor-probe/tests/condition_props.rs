//! Property tests of the condition language (candor-core has no proptest dependency, so they
//! live here, next to the engine that evaluates conditions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use candor_core::condition::{
    Comparator, Condition, Observation, Operand, PathStep, Placeholder, Reference,
};
use proptest::prelude::*;

fn path() -> impl Strategy<Value = Vec<PathStep>> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z_][a-zA-Z0-9_-]{0,8}".prop_map(PathStep::Key),
            (0usize..20).prop_map(PathStep::Index),
        ],
        0..4,
    )
}

fn text_literal() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:*-][A-Za-z0-9_.:* -]{0,10}[A-Za-z0-9_.:*-]|[A-Za-z0-9_.:-]"
}

fn number_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..100_000).prop_map(|n| n.to_string()),
        (
            1u32..1000,
            prop::sample::select(vec!["ms", "s", "m", "h", "d"])
        )
            .prop_map(|(n, u)| format!("{n}{u}"))
    ]
}

/// A typed side and a literal it accepts, and whether it may be ordered.
fn typed_pair() -> impl Strategy<Value = (Operand, String, bool)> {
    let r = |p| Reference {
        placeholder: p,
        path: vec![],
    };
    prop_oneof![
        (100u16..1000).prop_map(move |s| (
            Operand::Ref(r(Placeholder::Status)),
            s.to_string(),
            true
        )),
        number_literal().prop_map(move |l| (Operand::Ref(r(Placeholder::ResponseTime)), l, true)),
        number_literal().prop_map(move |l| (
            Operand::Ref(r(Placeholder::CertificateExpiration)),
            l,
            true
        )),
        prop::bool::ANY.prop_map(move |b| (
            Operand::Ref(r(Placeholder::Connected)),
            b.to_string(),
            false
        )),
        prop::sample::select(vec!["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"])
            .prop_map(move |c| (Operand::Ref(r(Placeholder::DnsRcode)), c.to_owned(), false)),
        (path(), text_literal()).prop_map(|(p, l)| (
            Operand::Ref(Reference {
                placeholder: Placeholder::Body,
                path: p
            }),
            l,
            false
        )),
        (path(), number_literal()).prop_map(|(p, l)| (
            Operand::Ref(Reference {
                placeholder: Placeholder::Body,
                path: p
            }),
            l,
            true
        )),
        (path(), 0u32..50).prop_map(|(p, n)| (
            Operand::Len(Reference {
                placeholder: Placeholder::Body,
                path: p
            }),
            n.to_string(),
            true
        )),
        (path(), prop::bool::ANY).prop_map(|(p, b)| (
            Operand::Has(Reference {
                placeholder: Placeholder::Body,
                path: p
            }),
            b.to_string(),
            false
        )),
        text_literal().prop_map(move |l| (Operand::Ref(r(Placeholder::Ip)), l, false)),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    (typed_pair(), 0usize..6, 0usize..4, prop::collection::vec(any::<u8>(), 1..4)).prop_map(
        |((typed, literal, orderable), op_index, shape, extra)| {
            let op = if orderable { Comparator::ALL[op_index] } else { [Comparator::Eq, Comparator::Ne][op_index % 2] };
            let plain_ref = matches!(&typed, Operand::Ref(r) if matches!(r.placeholder, Placeholder::Body | Placeholder::Ip));
            let right = match shape {
                // any(...) of literals of the same kind, only with == / !=.
                1 if !op_is_ordering(op) => Operand::Any(std::iter::once(literal.clone()).chain(extra.iter().map(|_| literal.clone())).collect()),
                // pat() only against text.
                2 if !op_is_ordering(op) && plain_ref => Operand::Pat(format!("*{}*", literal.trim())),
                3 => typed.clone(),
                _ => Operand::Literal(literal),
            };
            if shape == 0 && op_index % 2 == 1 && !matches!(right, Operand::Any(_) | Operand::Pat(_)) {
                Condition { left: right, op, right: typed }
            } else {
                Condition { left: typed, op, right }
            }
        },
    )
}

fn op_is_ordering(op: Comparator) -> bool {
    !matches!(op, Comparator::Eq | Comparator::Ne)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn display_then_parse_gives_the_same_condition(c in condition()) {
        let text = c.to_string();
        let parsed = Condition::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed, c);
    }

    #[test]
    fn parser_never_panics_and_errors_point_inside_the_text(text in "\\PC{0,60}") {
        match Condition::parse(&text) {
            Ok(c) => {
                // Whatever parses prints back to something that parses to the same thing.
                prop_assert_eq!(Condition::parse(&c.to_string()).unwrap(), c.clone());
                let _ = c.evaluate(&Observation::default());
            }
            Err(e) => prop_assert!(e.column >= 1 && e.column <= text.chars().count() + 2, "{e} for {text:?}"),
        }
    }

    #[test]
    fn parser_never_panics_on_condition_like_noise(text in "[\\[\\]().,=!<> A-Z_a-z0-9*]{0,40}") {
        if let Ok(c) = Condition::parse(&text) {
            prop_assert_eq!(Condition::parse(&c.to_string()).unwrap(), c);
        }
    }

    #[test]
    fn evaluation_never_panics_on_any_body(c in condition(), body in prop::collection::vec(any::<u8>(), 0..64), status in 0u16..1000) {
        let o = Observation { status: Some(status), body: Some(body), ..Observation::default() };
        let _ = c.evaluate(&o);
    }
}
