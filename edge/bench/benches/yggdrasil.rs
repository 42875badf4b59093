//! Unleash's engine (`unleash-yggdrasil` 0.21.7) on the same work as `engine.rs`: the issue's
//! generated snapshot translated into a client-features document by
//! [`vane_bench::unleash::client_features`] (1,000 flags → 1,000 features, 200 experiments →
//! 200 more), and the 350-feature variant of Unleash's reference figures.
//! Run both: `cargo bench -p vane-bench --bench engine --bench yggdrasil`.
#![allow(clippy::expect_used)] // A benchmark whose setup fails has nothing to measure.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use unleash_yggdrasil::{ClientFeatures, Context, EngineState, UpdateMessage};
use vane_bench::{
    GenSpec, NOW, THREE_CLAUSE_FLAG, generate_snapshot, sample_context, three_clause_context,
    unleash,
};

fn features(spec: &GenSpec, with_experiments: bool) -> ClientFeatures {
    let doc = unleash::client_features(&generate_snapshot(spec), with_experiments)
        .expect("the generated snapshot translates");
    serde_json::from_value(doc).expect("a valid client-features document")
}

fn engine(features: &ClientFeatures) -> EngineState {
    let engine = EngineState::default();
    let warnings = engine.take_state(UpdateMessage::FullResponse(features.clone()));
    assert!(
        warnings.is_none(),
        "yggdrasil rejected features: {warnings:?}"
    );
    engine
}

fn context(attributes: &serde_json::Value) -> Context {
    serde_json::from_value(unleash::context(attributes, NOW)).expect("a valid Unleash context")
}

fn loading(c: &mut Criterion) {
    let mut group = c.benchmark_group("yggdrasil/load");
    group.sample_size(20);
    group.sampling_mode(criterion::SamplingMode::Flat);
    for (name, spec, with_experiments) in [
        ("1000f+200e", GenSpec::ISSUE, true),
        ("350f", GenSpec::flags_only(350), false),
    ] {
        let features = features(&spec, with_experiments);
        // A fresh engine per load, returned so that dropping it is not timed (as for Vane).
        group.bench_function(name, |b| {
            b.iter_batched(
                || (EngineState::default(), features.clone()),
                |(engine, features)| {
                    engine.take_state(UpdateMessage::FullResponse(features));
                    engine
                },
                BatchSize::LargeInput,
            )
        });
    }
    let json = serde_json::to_string(&features(&GenSpec::ISSUE, true)).expect("serializes");
    group.bench_function("1000f+200e from JSON", |b| {
        b.iter_batched(
            EngineState::default,
            |engine| {
                let features: ClientFeatures =
                    serde_json::from_str(black_box(&json)).expect("parses");
                engine.take_state(UpdateMessage::FullResponse(features));
                engine
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn evaluating(c: &mut Criterion) {
    let all = engine(&features(&GenSpec::ISSUE, true));
    let flags = engine(&features(&GenSpec::ISSUE, false));
    let small = engine(&features(&GenSpec::flags_only(350), false));
    let ctx = context(&sample_context(42));

    let mut group = c.benchmark_group("yggdrasil/evaluate");
    group.bench_function("all 1000f+200e (resolve_all)", |b| {
        b.iter(|| all.resolve_all(black_box(&ctx), &None))
    });
    group.bench_function("flags 1000f (resolve_all)", |b| {
        b.iter(|| flags.resolve_all(black_box(&ctx), &None))
    });
    group.bench_function("flags 350f (resolve_all)", |b| {
        b.iter(|| small.resolve_all(black_box(&ctx), &None))
    });
    let three = context(&three_clause_context());
    assert!(all.is_enabled(THREE_CLAUSE_FLAG, &three, &None));
    group.bench_function("one feature, 3 constraints (is_enabled)", |b| {
        b.iter(|| all.is_enabled(black_box(THREE_CLAUSE_FLAG), black_box(&three), &None))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = loading, evaluating
}
criterion_main!(benches);
