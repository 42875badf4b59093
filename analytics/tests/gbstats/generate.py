#!/usr/bin/env python3
"""Write reference cases for vane-analytics' statistics engine.

Every "test" case runs gbstats 0.8.0 itself (TwoSidedTTest, SequentialTwoSidedTTest,
EffectBayesianABTest on SampleMean/Proportion/Ratio/RegressionAdjusted statistics) and every
"srm" case gbstats' check_srm. gbstats 0.8.0 has no multiple-comparison corrections and no power
calculator, so "correction" cases use SciPy's Benjamini-Hochberg and a plain Holm implementation,
and "power" cases an independent SciPy implementation of the formulas in docs/stats.md.
"distribution" cases record the SciPy functions gbstats calls (t.ppf, t.sf, norm.ppf, chi2.sf).

Usage: generate.py OUTPUT.json   (deterministic: same package versions, same bytes)
"""

import importlib.metadata
import json
import math
import sys

import numpy as np
import scipy
from scipy.optimize import brentq
from scipy.stats import chi2, false_discovery_control, norm, t

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)
from gbstats.utils import check_srm

SEED = 20261124
GBSTATS_VERSION = "0.8.0"

ERRORS = {
    "NO_UNITS_IN_VARIATION": "no_units",
    "ZERO_NEGATIVE_VARIANCE": "zero_variance",
    "ZERO_NEGATIVE_BASELINE_VARIATION": "zero_baseline",
}


def num(x):
    """A float for JSON; non-finite values become strings so the file stays valid JSON."""
    x = float(x)
    if math.isfinite(x):
        return x
    return repr(x)


# ---------------------------------------------------------------------------------------------
# gbstats adapters


def base_statistic(kind, n, sum_, sum_squares):
    if kind == "proportion":
        return ProportionStatistic(n=n, sum=sum_)
    return SampleMeanStatistic(n=n, sum=sum_, sum_squares=sum_squares)


def gb_statistic(metric, v):
    """Build the gbstats statistic of one variant from the case's input encoding."""
    kind = metric["type"]
    if kind == "ratio":
        d = v["denominator"]
        return RatioStatistic(
            n=v["n"],
            m_statistic=base_statistic(metric["numerator_type"], v["n"], v["sum"], v.get("sum_squares")),
            d_statistic=base_statistic(metric["denominator_type"], v["n"], d["sum"], d.get("sum_squares")),
            m_d_sum_of_products=d["sum_of_products"],
        )
    if "covariate" in v:
        c = v["covariate"]
        return RegressionAdjustedStatistic(
            n=v["n"],
            post_statistic=base_statistic(kind, v["n"], v["sum"], v.get("sum_squares")),
            pre_statistic=base_statistic(metric["covariate_type"], v["n"], c["sum"], c.get("sum_squares")),
            post_pre_sum_of_products=c["sum_of_products"],
            theta=0,
        )
    return base_statistic(kind, v["n"], v["sum"], v.get("sum_squares"))


def run_gbstats(case):
    metric = case["metric"]
    a = gb_statistic(metric, case["control"])
    b = gb_statistic(metric, case["treatment"])
    method = case["method"]
    if method == "frequentist":
        test = TwoSidedTTest(a, b, FrequentistConfig(alpha=case["alpha"], difference_type=case["difference"]))
    elif method == "sequential":
        test = SequentialTwoSidedTTest(
            a,
            b,
            SequentialConfig(
                alpha=case["alpha"],
                difference_type=case["difference"],
                sequential_tuning_parameter=case["tuning"],
            ),
        )
    else:
        p = case["prior"]
        test = EffectBayesianABTest(
            a,
            b,
            EffectBayesianConfig(
                alpha=case["alpha"],
                difference_type=case["difference"],
                inverse=case["inverse"],
                prior_effect=GaussianPrior(mean=p["mean"], variance=p["stddev"] ** 2, proper=p["proper"]),
                prior_type=p["scale"],
            ),
        )
    res = test.compute_result()
    if res.error_message:
        return {"not_enough_data": ERRORS[res.error_message]}
    out = {
        "expected": num(res.expected),
        "ci": [num(res.ci[0]), num(res.ci[1])],
        "stddev": num(res.uplift.stddev),
        "control_mean": num(test.stat_a.mean),
        "control_variance": num(test.stat_a.variance),
        "treatment_mean": num(test.stat_b.mean),
        "treatment_variance": num(test.stat_b.variance),
    }
    theta = getattr(test.stat_a, "theta", None)
    if theta is not None and theta != 0:
        out["theta"] = num(theta)
    if method == "bayesian":
        out["chance_to_win"] = num(res.chance_to_win)
        out["risk"] = [num(res.risk[0]), num(res.risk[1])]
    else:
        out["p_value"] = num(res.p_value)
        if method == "frequentist":
            out["dof"] = num(test.dof)
    return out


def test_case(case_id, metric, control, treatment, method, difference, alpha=0.05, tuning=5000.0,
              prior=None, inverse=False):
    case = {
        "id": case_id,
        "kind": "test",
        "method": method,
        "difference": difference,
        "alpha": alpha,
        "metric": metric,
        "control": control,
        "treatment": treatment,
    }
    if method == "sequential":
        case["tuning"] = tuning
    if method == "bayesian":
        case["prior"] = prior or {"proper": False, "mean": 0.0, "stddev": 1.0, "scale": "relative"}
        case["inverse"] = inverse
    try:
        case["expected"] = run_gbstats(case)
    except (ZeroDivisionError, ValueError, FloatingPointError) as exc:
        case["expected"] = {"gbstats_error": type(exc).__name__}
    return case


# ---------------------------------------------------------------------------------------------
# summary statistics from raw data


def stats_of(x):
    x = np.asarray(x, dtype=float)
    return float(x.sum()), float((x * x).sum())


def mean_variant(x):
    s, ss = stats_of(x)
    return {"n": int(len(x)), "sum": s, "sum_squares": ss}


def proportion_variant(x):
    return {"n": int(len(x)), "sum": float(np.sum(x))}


def with_part(variant, key, y, x, kind):
    s, ss = stats_of(x)
    part = {"sum": s, "sum_of_products": float(np.dot(np.asarray(y, float), np.asarray(x, float)))}
    if kind == "mean":
        part["sum_squares"] = ss
    variant[key] = part
    return variant


def mean_metric():
    return {"type": "mean"}


def proportion_metric():
    return {"type": "proportion"}


def ratio_metric(numerator_type="mean", denominator_type="mean"):
    return {"type": "ratio", "numerator_type": numerator_type, "denominator_type": denominator_type}


def cuped_metric(kind, covariate_type):
    return {"type": kind, "covariate_type": covariate_type}


def from_moments(n, mean, sd):
    """Exact sufficient statistics of a sample of size n with the given mean and sd."""
    s = n * mean
    return {"n": n, "sum": s, "sum_squares": (n - 1) * sd * sd + s * s / n}


# ---------------------------------------------------------------------------------------------
# random data


def random_params(rng, metric_kind):
    """Distribution parameters shared by the control and the treatment of one case."""
    if metric_kind == "mean":
        return {"shape": rng.uniform(0.3, 5.0), "scale": rng.uniform(0.5, 50.0),
                "offset": float(rng.choice([0.0, 0.0, -rng.uniform(0, 20)]))}
    if metric_kind == "proportion":
        return {"p": rng.uniform(0.01, 0.9)}
    if metric_kind == "ratio":
        return {"lam": rng.uniform(0.2, 6.0), "scale": rng.uniform(1, 30)}
    if metric_kind == "ratio_proportion":
        return {"lam": rng.uniform(0.2, 6.0), "p": rng.uniform(0.05, 0.6)}
    if metric_kind == "cuped_mean":
        return {"shape": rng.uniform(0.5, 4), "scale": rng.uniform(1, 20), "a": rng.uniform(0, 10),
                "b": rng.uniform(0.2, 1.5), "noise": rng.uniform(1, 20)}
    return {"p": rng.uniform(0.05, 0.6), "keep": rng.uniform(0.2, 0.9)}


def random_data(rng, metric_kind, q, n, lift):
    """Return (metric, variant) for one arm; lift multiplies the metric's mean."""
    if metric_kind == "mean":
        x = (rng.gamma(q["shape"], q["scale"], n) + q["offset"]) * (1 + lift)
        return mean_metric(), mean_variant(x)
    if metric_kind == "proportion":
        p = min(max(q["p"] * (1 + lift), 0.0), 1.0)
        return proportion_metric(), {"n": n, "sum": float(rng.binomial(n, p))}
    if metric_kind == "ratio":
        d = 1 + rng.poisson(q["lam"], n)
        m = rng.gamma(1.0, q["scale"], n) * d * (1 + lift)
        return ratio_metric("mean", "mean"), with_part(mean_variant(m), "denominator", m, d, "mean")
    if metric_kind == "ratio_proportion":
        d = 1 + rng.poisson(q["lam"], n)
        m = rng.binomial(1, min(max(q["p"] * (1 + lift), 0.0), 1.0), n)
        return ratio_metric("proportion", "mean"), with_part(proportion_variant(m), "denominator", m, d, "mean")
    if metric_kind == "cuped_mean":
        pre = rng.gamma(q["shape"], q["scale"], n)
        post = (q["a"] + q["b"] * pre + rng.normal(0, q["noise"], n)) * (1 + lift)
        return cuped_metric("mean", "mean"), with_part(mean_variant(post), "covariate", post, pre, "mean")
    # cuped_proportion: a binary metric with a binary pre-exposure covariate
    pre = rng.binomial(1, q["p"], n)
    keep = rng.binomial(1, q["keep"], n)
    post = np.where(keep == 1, pre, rng.binomial(1, min(max(q["p"] * (1 + lift), 0.0), 1.0), n))
    return (cuped_metric("proportion", "proportion"),
            with_part(proportion_variant(post), "covariate", post, pre, "proportion"))


def random_test_cases(rng, count):
    kinds = ["mean", "proportion", "ratio", "ratio_proportion", "cuped_mean", "cuped_proportion"]
    methods = ["frequentist", "sequential", "bayesian"]
    cases = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        method = methods[(i // len(kinds)) % len(methods)]
        difference = ["relative", "absolute"][(i // (len(kinds) * len(methods))) % 2]
        n_a = int(np.exp(rng.uniform(np.log(5), np.log(100000))))
        n_b = int(n_a * rng.uniform(0.8, 1.25)) if rng.uniform() < 0.7 else int(np.exp(rng.uniform(np.log(5), np.log(100000))))
        lift = 0.0 if rng.uniform() < 0.3 else float(rng.normal(0, 0.1))
        params = random_params(rng, kind)
        metric, control = random_data(rng, kind, params, n_a, 0.0)
        _, treatment = random_data(rng, kind, params, n_b, lift)
        alpha = float(rng.choice([0.05, 0.05, 0.1, 0.01, round(float(rng.uniform(0.001, 0.2)), 4)]))
        tuning = float(rng.choice([5000.0, 5000.0, round(float(np.exp(rng.uniform(np.log(100), np.log(100000)))), 1)]))
        prior = {
            "proper": bool(rng.uniform() < 0.5),
            "mean": round(float(rng.normal(0, 0.1)), 4),
            "stddev": round(float(rng.uniform(0.05, 1.0)), 4),
            "scale": str(rng.choice(["relative", "absolute"])),
        }
        inverse = bool(rng.uniform() < 0.3)
        cases.append(
            test_case(f"random-test-{i:03}-{kind}-{method}-{difference}", metric, control, treatment,
                      method, difference, alpha=alpha, tuning=tuning, prior=prior, inverse=inverse)
        )
    return cases


# ---------------------------------------------------------------------------------------------
# fixed cases


def fixed_test_cases():
    inputs = []
    rng = np.random.default_rng(7)

    inputs.append(("mean-basic", mean_metric(), {"n": 5000, "sum": 50000.0, "sum_squares": 600000.0},
                   {"n": 5000, "sum": 51500.0, "sum_squares": 630000.0}))
    inputs.append(("proportion-10-vs-12", proportion_metric(), {"n": 2000, "sum": 200.0}, {"n": 2000, "sum": 240.0}))
    inputs.append(("proportion-unequal-n", proportion_metric(), {"n": 10400, "sum": 1311.0}, {"n": 9650, "sum": 1290.0}))
    inputs.append(("mean-negative-control", mean_metric(), from_moments(800, -3.2, 4.0), from_moments(820, -2.9, 4.4)))
    inputs.append(("mean-tiny-samples", mean_metric(), {"n": 2, "sum": 3.0, "sum_squares": 5.0},
                   {"n": 3, "sum": 7.0, "sum_squares": 19.0}))
    inputs.append(("mean-huge-samples", mean_metric(), from_moments(10_000_000, 12.5, 30.0),
                   from_moments(10_020_000, 12.52, 30.1)))
    inputs.append(("mean-enormous-samples", mean_metric(), from_moments(2_000_000_000, 1.0, 3.0),
                   from_moments(2_000_000_000, 1.0001, 3.0)))
    inputs.append(("mean-huge-effect", mean_metric(), from_moments(100000, 10.0, 1.0), from_moments(100000, 20.0, 1.0)))
    inputs.append(("mean-no-difference", mean_metric(), from_moments(1000, 5.0, 2.0), from_moments(1000, 5.0, 2.0)))
    inputs.append(("zero-control-mean", proportion_metric(), {"n": 100, "sum": 0.0}, {"n": 100, "sum": 3.0}))
    inputs.append(("zero-variance-treatment", mean_metric(), from_moments(50, 2.0, 1.0),
                   {"n": 40, "sum": 80.0, "sum_squares": 160.0}))
    inputs.append(("empty-treatment", mean_metric(), from_moments(50, 2.0, 1.0), {"n": 0, "sum": 0.0, "sum_squares": 0.0}))
    inputs.append(("empty-control", mean_metric(), {"n": 0, "sum": 0.0, "sum_squares": 0.0}, from_moments(50, 2.0, 1.0)))
    inputs.append(("single-unit-control", mean_metric(), {"n": 1, "sum": 4.0, "sum_squares": 16.0}, from_moments(50, 2.0, 1.0)))
    inputs.append(("proportion-all-converted", proportion_metric(), {"n": 30, "sum": 30.0}, {"n": 30, "sum": 29.0}))

    d_a, d_b = 1 + rng.poisson(3, 4000), 1 + rng.poisson(3, 4100)
    m_a, m_b = rng.gamma(1.0, 8.0, 4000) * d_a, rng.gamma(1.0, 8.4, 4100) * d_b
    inputs.append(("ratio-revenue-per-session", ratio_metric(),
                   with_part(mean_variant(m_a), "denominator", m_a, d_a, "mean"),
                   with_part(mean_variant(m_b), "denominator", m_b, d_b, "mean")))
    c_a, c_b = rng.binomial(1, 0.3, 4000), rng.binomial(1, 0.33, 4100)
    inputs.append(("ratio-proportion-numerator", ratio_metric("proportion", "mean"),
                   with_part(proportion_variant(c_a), "denominator", c_a, d_a, "mean"),
                   with_part(proportion_variant(c_b), "denominator", c_b, d_b, "mean")))
    inputs.append(("ratio-zero-denominator", ratio_metric(),
                   with_part(mean_variant([1.0, 2.0, 3.0]), "denominator", [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], "mean"),
                   with_part(mean_variant([1.0, 2.0, 4.0]), "denominator", [1.0, 2.0, 4.0], [1.0, 2.0, 1.0], "mean")))

    pre_a, pre_b = rng.gamma(2.0, 10.0, 3000), rng.gamma(2.0, 10.0, 3000)
    post_a = 5 + 0.8 * pre_a + rng.normal(0, 6, 3000)
    post_b = 5.6 + 0.8 * pre_b + rng.normal(0, 6, 3000)
    inputs.append(("cuped-mean", cuped_metric("mean", "mean"),
                   with_part(mean_variant(post_a), "covariate", post_a, pre_a, "mean"),
                   with_part(mean_variant(post_b), "covariate", post_b, pre_b, "mean")))
    bpre_a, bpre_b = rng.binomial(1, 0.2, 5000), rng.binomial(1, 0.2, 5000)
    bpost_a = np.where(rng.uniform(size=5000) < 0.6, bpre_a, rng.binomial(1, 0.2, 5000))
    bpost_b = np.where(rng.uniform(size=5000) < 0.6, bpre_b, rng.binomial(1, 0.24, 5000))
    inputs.append(("cuped-proportion", cuped_metric("proportion", "proportion"),
                   with_part(proportion_variant(bpost_a), "covariate", bpost_a, bpre_a, "proportion"),
                   with_part(proportion_variant(bpost_b), "covariate", bpost_b, bpre_b, "proportion")))
    inputs.append(("cuped-proportion-with-mean-covariate", cuped_metric("proportion", "mean"),
                   with_part(proportion_variant(bpost_a), "covariate", bpost_a, rng.gamma(2.0, 3.0, 5000) + 3 * bpost_a, "mean"),
                   with_part(proportion_variant(bpost_b), "covariate", bpost_b, rng.gamma(2.0, 3.0, 5000) + 3 * bpost_b, "mean")))
    const = np.ones(3000)
    inputs.append(("cuped-constant-covariate-falls-back", cuped_metric("mean", "mean"),
                   with_part(mean_variant(post_a), "covariate", post_a, const, "mean"),
                   with_part(mean_variant(post_b), "covariate", post_b, const, "mean")))

    cases = []
    priors = [
        {"proper": False, "mean": 0.0, "stddev": 1.0, "scale": "relative"},
        {"proper": True, "mean": 0.0, "stddev": 0.3, "scale": "relative"},
        {"proper": True, "mean": 0.02, "stddev": 0.05, "scale": "relative"},
        {"proper": True, "mean": 0.5, "stddev": 2.0, "scale": "absolute"},
    ]
    for name, metric, control, treatment in inputs:
        for difference in ["relative", "absolute"]:
            cases.append(test_case(f"fixed-{name}-frequentist-{difference}", metric, control, treatment,
                                   "frequentist", difference))
            cases.append(test_case(f"fixed-{name}-sequential-{difference}", metric, control, treatment,
                                   "sequential", difference))
            for j, prior in enumerate(priors):
                cases.append(test_case(f"fixed-{name}-bayesian-{difference}-prior{j}", metric, control, treatment,
                                       "bayesian", difference, prior=prior, inverse=(j == 2)))
    base = inputs[0]
    for alpha in [0.001, 0.01, 0.1, 0.2]:
        for method in ["frequentist", "sequential", "bayesian"]:
            cases.append(test_case(f"fixed-alpha-{alpha}-{method}", base[1], base[2], base[3], method, "relative",
                                   alpha=alpha))
    for tuning in [100.0, 1000.0, 20000.0, 1e6]:
        for name, metric, control, treatment in inputs[:6]:
            cases.append(test_case(f"fixed-tuning-{tuning:g}-{name}", metric, control, treatment, "sequential",
                                   "relative", tuning=tuning))
    return cases


# ---------------------------------------------------------------------------------------------
# SRM, corrections, power, distributions


def srm_cases(rng, count):
    fixed = [
        ([5000, 5000], [0.5, 0.5]),
        ([5000, 5400], [0.5, 0.5]),
        ([1000, 1100, 1050], [1 / 3, 1 / 3, 1 / 3]),
        ([900, 2100], [0.3, 0.7]),
        ([0, 0], [0.5, 0.5]),
        ([120, 80, 0], [0.5, 0.5, 0.0]),
        ([10, 1000], [0.5, 0.5]),
    ]
    for _ in range(count):
        k = int(rng.integers(2, 6))
        w = rng.dirichlet(np.ones(k))
        total = int(np.exp(rng.uniform(np.log(20), np.log(2_000_000))))
        skew = w * np.exp(rng.normal(0, 0.02 if rng.uniform() < 0.5 else 0.0, k))
        users = rng.multinomial(total, skew / skew.sum())
        fixed.append(([int(u) for u in users], [float(x) for x in w]))
    return [
        {"id": f"srm-{i:03}", "kind": "srm", "users": u, "weights": w, "expected": {"p_value": num(check_srm(u, w))}}
        for i, (u, w) in enumerate(fixed)
    ]


def holm(ps):
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


def correction_cases(rng, count):
    fixed = [[0.01, 0.04, 0.03, 0.005], [0.5], [0.0, 1.0, 0.2, 0.2], [0.001, 0.002, 0.003, 0.2, 0.5, 0.9]]
    for _ in range(count):
        k = int(rng.integers(1, 25))
        ps = rng.uniform(0, 1, k) ** rng.uniform(1, 6)
        fixed.append([float(p) for p in ps])
    cases = []
    for i, ps in enumerate(fixed):
        cases.append({"id": f"correction-holm-{i:03}", "kind": "correction", "method": "holm_bonferroni",
                      "p_values": ps, "expected": {"adjusted": [num(x) for x in holm(ps)]}})
        cases.append({"id": f"correction-bh-{i:03}", "kind": "correction", "method": "benjamini_hochberg",
                      "p_values": ps,
                      "expected": {"adjusted": [num(x) for x in false_discovery_control(ps, method="bh")]}})
    return cases


def seq_multiplier(total_n, alpha, tuning):
    rho = math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning)
    nr2p1 = total_n * rho ** 2 + 1
    return math.sqrt(total_n) * math.sqrt(2 * nr2p1 * math.log(math.sqrt(nr2p1) / alpha) / (total_n * rho) ** 2)


def plan_power(mean, variance, alpha, tuning, n, effect):
    sd = math.sqrt(variance * (1 + (1 + effect) ** 2) / (mean ** 2 * n))
    z = norm.ppf(1 - alpha / 2)
    if tuning is not None:
        sd *= seq_multiplier(2 * n, alpha, tuning) / z
    d = effect / sd
    return norm.sf(z - d) + norm.cdf(-z - d)


def plan_mde(mean, variance, alpha, tuning, n, target):
    hi = 1.0
    while plan_power(mean, variance, alpha, tuning, n, hi) < target:
        hi *= 2
        if hi > 1e12:
            return None
    return brentq(lambda e: plan_power(mean, variance, alpha, tuning, n, e) - target, 0.0, hi, xtol=1e-15,
                  rtol=1e-15, maxiter=500)


def plan_sample_size(mean, variance, alpha, tuning, effect, target):
    ok = lambda n: plan_power(mean, variance, alpha, tuning, n, effect) >= target
    n = 1
    while not ok(n):
        n *= 2
        if n > 2e12:
            return None
    lo, hi = n // 2, n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def power_cases(rng, count):
    fixed = [
        (0.1, 0.09, 0.05, None, 10000, 0.05, 0.8),
        (0.1, 0.09, 0.05, 5000.0, 10000, 0.05, 0.8),
        (25.0, 900.0, 0.05, None, 50000, 0.02, 0.8),
        (25.0, 900.0, 0.01, None, 50000, -0.03, 0.9),
        (1.0, 100.0, 0.05, None, 3, 0.5, 0.8),
    ]
    for _ in range(count):
        mean = float(rng.choice([rng.uniform(0.01, 0.9), rng.uniform(-50, 200)]))
        variance = float(mean * (1 - mean)) if 0 < mean < 1 and rng.uniform() < 0.5 else float(rng.uniform(0.1, 5) * (abs(mean) + 1) ** 2)
        alpha = float(rng.choice([0.05, 0.1, 0.01]))
        tuning = None if rng.uniform() < 0.5 else float(rng.choice([5000.0, 1000.0, 50000.0]))
        n = int(np.exp(rng.uniform(np.log(50), np.log(5_000_000))))
        effect = float(rng.choice([-1, 1]) * np.exp(rng.uniform(np.log(0.002), np.log(0.5))))
        target = float(rng.choice([0.8, 0.9, 0.5]))
        fixed.append((mean, variance, alpha, tuning, n, effect, target))
    cases = []
    for i, (mean, variance, alpha, tuning, n, effect, target) in enumerate(fixed):
        cases.append({
            "id": f"power-{i:03}", "kind": "power",
            "mean": mean, "variance": variance, "alpha": alpha, "tuning": tuning,
            "n_per_variation": n, "effect": effect, "target_power": target,
            "expected": {
                "power": num(plan_power(mean, variance, alpha, tuning, n, effect)),
                "mde": None if (m := plan_mde(mean, variance, alpha, tuning, n, target)) is None else num(m),
                "sample_size": plan_sample_size(mean, variance, alpha, tuning, effect, target),
            },
        })
    return cases


def distribution_cases():
    cases = []
    dofs = [1.0, 1.5, 2.0, 3.7, 10.0, 57.3, 300.0, 1000.0, 9999.0, 10001.0, 12345.6, 1e5, 1e6, 1e7, 1e9, 1e12]
    for dof in dofs:
        for p in [1e-9, 0.0005, 0.025, 0.3, 0.5, 0.9, 0.95, 0.975, 0.995, 0.9995]:
            cases.append({"id": f"t-ppf-{dof:g}-{p:g}", "kind": "distribution", "function": "t_ppf",
                          "x": p, "dof": dof, "expected": {"value": num(t.ppf(p, dof))}})
        for x in [-3.0, 0.0, 0.2, 1.0, 1.96, 2.5, 4.0, 8.0, 30.0]:
            cases.append({"id": f"t-sf-{dof:g}-{x:g}", "kind": "distribution", "function": "t_sf",
                          "x": x, "dof": dof, "expected": {"value": num(t.sf(x, dof))}})
    for p in [1e-12, 1e-5, 0.025, 0.3, 0.5, 0.975, 0.999999]:
        cases.append({"id": f"norm-ppf-{p:g}", "kind": "distribution", "function": "norm_ppf", "x": p,
                      "expected": {"value": num(norm.ppf(p))}})
    for dof in [1, 2, 3, 5, 10]:
        for x in [0.1, 1.0, 5.0, 13.8, 40.0]:
            cases.append({"id": f"chi2-sf-{dof}-{x:g}", "kind": "distribution", "function": "chi2_sf", "x": x,
                          "dof": float(dof), "expected": {"value": num(chi2.sf(x, dof))}})
    return cases


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: generate.py OUTPUT.json")
    version = importlib.metadata.version("gbstats")
    if version != GBSTATS_VERSION:
        sys.exit(f"gbstats {GBSTATS_VERSION} required, found {version}")
    np.seterr(all="ignore")
    rng = np.random.default_rng(SEED)
    cases = fixed_test_cases()
    cases += random_test_cases(rng, 360)
    cases += srm_cases(rng, 60)
    cases += correction_cases(rng, 40)
    cases += power_cases(rng, 60)
    cases += distribution_cases()
    header = {
        "generator": "analytics/tests/gbstats/generate.py",
        "gbstats": version,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "seed": SEED,
        "cases": len(cases),
    }
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        out.write("{\"header\": " + json.dumps(header, sort_keys=True) + ",\n\"cases\": [\n")
        out.write(",\n".join(json.dumps(c, sort_keys=True) for c in cases))
        out.write("\n]}\n")
    kinds = {}
    for c in cases:
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    print(f"wrote {len(cases)} cases to {sys.argv[1]}: {kinds}")


if __name__ == "__main__":
    main()
