//! A/A simulations: both variants draw from the same distribution, so every significant result
//! is a false positive. Seeded and deterministic; summary statistics are drawn directly from
//! their sampling distributions (for normal data the sample mean is normal and the within-sample
//! sum of squares is σ²·χ²(n − 1); for binary data the count is binomial), so no per-unit data
//! is generated.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Binomial, ChiSquared, Distribution, Normal};
use vane_analytics::stats::{
    Alpha, Difference, FrequentistConfig, Outcome, Pair, Proportion, SampleMean, SequentialConfig,
    Statistic, StatsError, TuningParameter, sequential_t_test, two_sided_t_test,
};

const EXPERIMENTS: usize = 1000;
const ALPHA: f64 = 0.05;

/// Running sufficient statistics of one arm.
#[derive(Debug, Default, Clone, Copy)]
struct Arm {
    n: u64,
    sum: f64,
    sum_squares: f64,
}

impl Arm {
    /// Add `n` draws from N(mu, sigma²).
    fn add_normal(&mut self, rng: &mut StdRng, n: u64, mu: f64, sigma: f64) -> Result<(), String> {
        let mean = Normal::new(mu, sigma / (n as f64).sqrt())
            .map_err(|e| e.to_string())?
            .sample(rng);
        let within = ChiSquared::new((n - 1) as f64)
            .map_err(|e| e.to_string())?
            .sample(rng)
            * sigma
            * sigma;
        let sum = mean * n as f64;
        self.n += n;
        self.sum += sum;
        self.sum_squares += within + sum * mean;
        Ok(())
    }

    fn statistic(&self) -> Result<Statistic, StatsError> {
        Ok(Statistic::Mean(SampleMean::new(
            self.n,
            self.sum,
            self.sum_squares,
        )?))
    }
}

fn significant<T>(outcome: Outcome<T>, p: impl Fn(&T) -> f64) -> bool {
    match outcome {
        Outcome::Ok(r) => p(&r) < ALPHA,
        Outcome::NotEnoughData { .. } => false,
    }
}

fn fixed_config() -> Result<FrequentistConfig, StatsError> {
    Ok(FrequentistConfig {
        alpha: Alpha::new(ALPHA)?,
        difference: Difference::Relative,
    })
}

#[test]
fn fixed_horizon_false_positive_rate_is_nominal_for_a_numeric_metric()
-> Result<(), Box<dyn std::error::Error>> {
    let mut rng = StdRng::seed_from_u64(20_261_124);
    let config = fixed_config()?;
    let mut positives = 0;
    for _ in 0..EXPERIMENTS {
        let (mut a, mut b) = (Arm::default(), Arm::default());
        a.add_normal(&mut rng, 1000, 10.0, 4.0)?;
        b.add_normal(&mut rng, 1000, 10.0, 4.0)?;
        let pair = Pair::new(a.statistic()?, b.statistic()?)?;
        if significant(two_sided_t_test(&pair, &config), |r| r.p_value) {
            positives += 1;
        }
    }
    let rate = positives as f64 / EXPERIMENTS as f64;
    println!("fixed horizon, numeric metric: false-positive rate {rate:.3}");
    assert!(
        (0.035..=0.065).contains(&rate),
        "false-positive rate {rate}"
    );
    Ok(())
}

#[test]
fn fixed_horizon_false_positive_rate_is_nominal_for_a_conversion_rate()
-> Result<(), Box<dyn std::error::Error>> {
    let mut rng = StdRng::seed_from_u64(7_001);
    let config = fixed_config()?;
    let conversions = Binomial::new(2000, 0.1)?;
    let mut positives = 0;
    for _ in 0..EXPERIMENTS {
        let a = Proportion::new(2000, conversions.sample(&mut rng) as f64)?;
        let b = Proportion::new(2000, conversions.sample(&mut rng) as f64)?;
        let pair = Pair::new(Statistic::Proportion(a), Statistic::Proportion(b))?;
        if significant(two_sided_t_test(&pair, &config), |r| r.p_value) {
            positives += 1;
        }
    }
    let rate = positives as f64 / EXPERIMENTS as f64;
    println!("fixed horizon, conversion rate: false-positive rate {rate:.3}");
    assert!(
        (0.035..=0.065).contains(&rate),
        "false-positive rate {rate}"
    );
    Ok(())
}

#[test]
fn sequential_testing_keeps_the_false_positive_rate_under_alpha_with_daily_peeking()
-> Result<(), Box<dyn std::error::Error>> {
    const DAYS: usize = 14;
    const UNITS_PER_DAY: u64 = 300;
    let mut rng = StdRng::seed_from_u64(1_414);
    let sequential = SequentialConfig {
        alpha: Alpha::new(ALPHA)?,
        difference: Difference::Relative,
        tuning: TuningParameter::DEFAULT,
    };
    let fixed = fixed_config()?;
    let (mut sequential_positives, mut naive_positives) = (0, 0);
    for _ in 0..EXPERIMENTS {
        let (mut a, mut b) = (Arm::default(), Arm::default());
        let (mut sequential_hit, mut naive_hit) = (false, false);
        for _ in 0..DAYS {
            a.add_normal(&mut rng, UNITS_PER_DAY, 10.0, 4.0)?;
            b.add_normal(&mut rng, UNITS_PER_DAY, 10.0, 4.0)?;
            let pair = Pair::new(a.statistic()?, b.statistic()?)?;
            sequential_hit |= significant(sequential_t_test(&pair, &sequential), |r| r.p_value);
            naive_hit |= significant(two_sided_t_test(&pair, &fixed), |r| r.p_value);
        }
        sequential_positives += usize::from(sequential_hit);
        naive_positives += usize::from(naive_hit);
    }
    let rate = sequential_positives as f64 / EXPERIMENTS as f64;
    let naive = naive_positives as f64 / EXPERIMENTS as f64;
    println!(
        "{DAYS} daily looks: sequential false-positive rate {rate:.3}, \
         fixed-horizon test peeked daily {naive:.3}"
    );
    assert!(rate <= ALPHA, "sequential false-positive rate {rate}");
    // The simulation is sensitive enough to see the problem sequential testing solves.
    assert!(
        naive > 0.1,
        "peeking at the fixed-horizon test gave only {naive}"
    );
    Ok(())
}
