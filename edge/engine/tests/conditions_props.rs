//! Property tests of the targeting-condition language: compiling and evaluating never panics,
//! the logical operators are the boolean operations they claim to be, and version ordering is
//! a total order that agrees with numeric ordering on plain `x.y.z` versions.

use std::cmp::Ordering;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use vane_engine::condition::{Condition, GroupIndex, IdList};

/// Segment names the generated documents may use; `a` and `b` are id lists, `c` is not one.
fn groups() -> GroupIndex {
    GroupIndex::from([
        ("a".to_owned(), Some(0)),
        ("b".to_owned(), Some(1)),
        ("c".to_owned(), None),
    ])
}

fn id_lists() -> Vec<IdList> {
    vec![
        IdList::new(&[json!("u1"), json!(7), json!(true)]),
        IdList::new(&[]),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("a.b".to_owned()),
        Just("list.0".to_owned()),
        Just("$x".to_owned()),
        "[a-c$.]{0,4}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-5i64..5).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinities", |x| x.is_finite())
            .prop_map(Value::from),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        prop_oneof![
            Just("".to_owned()),
            Just("u1".to_owned()),
            Just("1.2.3".to_owned()),
            Just("0x1f".to_owned()),
            Just("a".to_owned()),
            Just("c".to_owned()),
            "\\PC{0,6}",
        ]
        .prop_map(Value::String),
    ]
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn operator() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "$eq",
        "$ne",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$in",
        "$nin",
        "$ini",
        "$nini",
        "$all",
        "$alli",
        "$elemMatch",
        "$size",
        "$exists",
        "$type",
        "$regex",
        "$regexi",
        "$not",
        "$inGroup",
        "$notInGroup",
        "$veq",
        "$vne",
        "$vgt",
        "$vgte",
        "$vlt",
        "$vlte",
        "$and",
        "$or",
        "$nor",
        "$bogus",
    ])
    .prop_map(str::to_owned)
}

/// Condition-shaped documents: objects whose keys are attribute paths, logical operators and
/// value operators with operands of every type, valid or not.
fn condition_doc() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        json_value(),
        (operator(), json_value()).prop_map(|(op, v)| json!({ op: v })),
        Just(json!({"$type": "string"})),
        Just(json!({"$regex": "^a.*"})),
        Just(json!({"$inGroup": "a"})),
        Just(json!({"$vgt": "1.2.3"})),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            prop::collection::btree_map(key(), inner.clone(), 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| json!({"$or": v})),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| json!({"$and": v})),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| json!({"$nor": v})),
            inner.clone().prop_map(|v| json!({"$not": v})),
            (operator(), inner).prop_map(|(op, v)| json!({ "a": { op: v } })),
        ]
    })
}

/// Attribute objects over the keys the documents use.
fn attributes() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop_oneof![
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("list".to_owned()),
            key()
        ],
        json_value(),
        0..5,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

/// Valid conditions over `a` and `b`, to test the logical operators on.
fn valid_condition() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        (-3i64..3).prop_map(Value::from),
        "[a-c]".prop_map(Value::from)
    ];
    let leaf = prop_oneof![
        value.clone().prop_map(|v| json!({ "a": v })),
        value.clone().prop_map(|v| json!({ "b": {"$gt": v} })),
        value.clone().prop_map(|v| json!({ "a": {"$lte": v} })),
        prop::collection::vec(value.clone(), 0..3).prop_map(|v| json!({ "b": {"$in": v} })),
        any::<bool>().prop_map(|e| json!({ "a": {"$exists": e} })),
        Just(json!({ "a": {"$regex": "^[ab]"} })),
        Just(json!({ "b": {"$inGroup": "a"} })),
        Just(json!({ "a": {"$type": "number"} })),
        Just(json!({ "a": {"$vgte": "1.0.0"} })),
        value.prop_map(|v| json!({ "b": {"$elemMatch": {"$eq": v}} })),
        Just(json!({})),
    ];
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| json!({"$or": v})),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| json!({"$and": v})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"$nor": v})),
            inner.prop_map(|v| json!({"$not": v})),
        ]
    })
}

fn simple_attributes() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        Just(Value::Null),
        (-3i64..3).prop_map(Value::from),
        "[a-c]".prop_map(Value::from),
        Just(json!("u1")),
        Just(json!("1.2.0")),
        prop::collection::vec((-3i64..3).prop_map(Value::from), 0..3).prop_map(Value::Array),
    ];
    (prop::option::of(value.clone()), prop::option::of(value)).prop_map(|(a, b)| {
        let mut m = Map::new();
        if let Some(a) = a {
            m.insert("a".into(), a);
        }
        if let Some(b) = b {
            m.insert("b".into(), b);
        }
        Value::Object(m)
    })
}

fn must_compile(doc: &Value) -> Condition {
    let mut errors = Vec::new();
    match Condition::compile(doc, "condition", &groups(), &mut errors) {
        Some(c) => c,
        None => panic!("{doc} did not compile: {errors:?}"),
    }
}

fn version_cmp(a: &str, b: &str) -> Ordering {
    let gt = must_compile(&json!({ "v": {"$vgt": b} }));
    let eq = must_compile(&json!({ "v": {"$veq": b} }));
    let attrs = json!({ "v": a });
    if gt.matches(&attrs, &[]) {
        Ordering::Greater
    } else if eq.matches(&attrs, &[]) {
        Ordering::Equal
    } else {
        Ordering::Less
    }
}

fn version() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..30, 0u32..30, 0u32..30).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (0u32..3, 0u32..3, 0u32..3, "(alpha|beta|rc)", 0u32..12)
            .prop_map(|(a, b, c, tag, n)| format!("v{a}.{b}.{c}-{tag}.{n}")),
        (0u32..3, 0u32..12).prop_map(|(a, b)| format!("{a}.{b}")),
        (0u32..3, 0u32..3, 0u32..3).prop_map(|(a, b, c)| format!("{a}.{b}.{c}+build.{a}")),
        "[0-9a-z.+-]{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn compiling_and_evaluating_arbitrary_documents_never_panics(
        doc in condition_doc(),
        attrs in prop_oneof![attributes(), json_value()],
    ) {
        let lists = id_lists();
        let mut errors = Vec::new();
        let compiled = Condition::compile(&doc, "condition", &groups(), &mut errors);
        prop_assert_eq!(compiled.is_none(), !errors.is_empty());
        if let Some(c) = compiled {
            let _ = c.matches(&attrs, &lists);
            // Fewer id lists than compiled indexes must not panic either.
            let _ = c.matches(&attrs, &[]);
        }
    }

    #[test]
    fn not_of_a_condition_is_its_negation(x in valid_condition(), attrs in simple_attributes()) {
        let lists = id_lists();
        let plain = must_compile(&x).matches(&attrs, &lists);
        let negated = must_compile(&json!({"$not": x})).matches(&attrs, &lists);
        prop_assert_eq!(negated, !plain);
    }

    #[test]
    fn nor_of_one_condition_is_its_negation(x in valid_condition(), attrs in simple_attributes()) {
        let lists = id_lists();
        let plain = must_compile(&x).matches(&attrs, &lists);
        let nor = must_compile(&json!({"$nor": [x]})).matches(&attrs, &lists);
        prop_assert_eq!(nor, !plain);
    }

    #[test]
    fn and_of_two_conditions_is_their_conjunction(
        a in valid_condition(),
        b in valid_condition(),
        attrs in simple_attributes(),
    ) {
        let lists = id_lists();
        let both = must_compile(&a).matches(&attrs, &lists) && must_compile(&b).matches(&attrs, &lists);
        let and = must_compile(&json!({"$and": [a, b]})).matches(&attrs, &lists);
        prop_assert_eq!(and, both);
    }

    #[test]
    fn or_of_two_conditions_is_their_disjunction(
        a in valid_condition(),
        b in valid_condition(),
        attrs in simple_attributes(),
    ) {
        let lists = id_lists();
        let either = must_compile(&a).matches(&attrs, &lists) || must_compile(&b).matches(&attrs, &lists);
        let or = must_compile(&json!({"$or": [a, b]})).matches(&attrs, &lists);
        prop_assert_eq!(or, either);
    }

    #[test]
    fn version_order_agrees_with_numeric_order_of_plain_versions(
        a in (0u32..100_000, 0u32..100_000, 0u32..100_000),
        b in (0u32..100_000, 0u32..100_000, 0u32..100_000),
    ) {
        let (sa, sb) = (format!("{}.{}.{}", a.0, a.1, a.2), format!("{}.{}.{}", b.0, b.1, b.2));
        prop_assert_eq!(version_cmp(&sa, &sb), a.cmp(&b));
    }

    #[test]
    fn version_order_is_total_and_antisymmetric(a in version(), b in version()) {
        let ab = version_cmp(&a, &b);
        let ba = version_cmp(&b, &a);
        prop_assert_eq!(ab, ba.reverse());
        let lt = must_compile(&json!({ "v": {"$vlt": b} })).matches(&json!({ "v": a }), &[]);
        let lte = must_compile(&json!({ "v": {"$vlte": b} })).matches(&json!({ "v": a }), &[]);
        let ne = must_compile(&json!({ "v": {"$vne": b} })).matches(&json!({ "v": a }), &[]);
        prop_assert_eq!(lt, ab == Ordering::Less);
        prop_assert_eq!(lte, ab != Ordering::Greater);
        prop_assert_eq!(ne, ab != Ordering::Equal);
    }

    #[test]
    fn version_order_is_transitive(a in version(), b in version(), c in version()) {
        let v = [a, b, c];
        for x in &v {
            for y in &v {
                for z in &v {
                    let xy = version_cmp(x, y);
                    let yz = version_cmp(y, z);
                    if xy != Ordering::Greater && yz != Ordering::Greater {
                        prop_assert_ne!(version_cmp(x, z), Ordering::Greater, "{} <= {} <= {}", x, y, z);
                    }
                }
            }
        }
    }
}

#[test]
fn deeply_nested_documents_are_rejected_instead_of_overflowing_the_stack() {
    let mut doc = json!({"a": 1});
    for _ in 0..150 {
        doc = json!({ "$not": doc });
    }
    let mut errors = Vec::new();
    assert!(Condition::compile(&doc, "condition", &groups(), &mut errors).is_none());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "condition");
}

#[test]
fn deeply_nested_attributes_evaluate_without_overflowing_the_stack() {
    // Built by hand: `json!` would serialize the interpolated value recursively.
    let mut deep = Value::from("x");
    for _ in 0..5_000 {
        deep = Value::Array(vec![deep]);
    }
    let attrs = Value::Object(Map::from_iter([("a".to_owned(), deep)]));
    for doc in [
        json!({"a": "x"}),
        json!({"a": 0}),
        json!({"a": {"$regex": "x"}}),
        json!({"a": {"$gt": "w"}}),
        json!({"a": {"$lt": 1}}),
        json!({"a": [[["x"]]]}),
        json!({"a": {"$in": ["x"]}}),
        json!({"a": {"$vgt": "1"}}),
    ] {
        let _ = must_compile(&doc).matches(&attrs, &[]);
    }
    // Dropping a value this deep is recursive in serde_json; keep it alive past the test.
    std::mem::forget(attrs);
}
