"""Spread of repeats and agreement between two sets of per-item scores, as the judge contract defines them."""
import math

# Two-sided 95% Student t quantiles for 1..30 degrees of freedom; the normal quantile beyond.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def spread(values):
    """common.v1.Spread as a dict: n, mean, sample stddev, Student-t 95% interval (the mean itself when n < 2)."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": 0.0, "stddev": 0.0, "ci95_low": 0.0, "ci95_high": 0.0}
    mean = sum(values) / n
    if n < 2:
        return {"n": n, "mean": mean, "stddev": 0.0, "ci95_low": mean, "ci95_high": mean}
    stddev = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    half = t * stddev / math.sqrt(n)
    return {"n": n, "mean": mean, "stddev": stddev, "ci95_low": mean - half, "ci95_high": mean + half}


def _average_ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def _pearson(x, y):
    n = len(x)
    if n < 2:
        return math.nan
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return math.nan
    return sxy / math.sqrt(sxx * syy)


def spearman(x, y):
    return _pearson(_average_ranks(x), _average_ranks(y))


def krippendorff_alpha_interval(units):
    """α (interval metric); units hold the values the coders gave one item; NaN without expected disagreement."""
    pairable = [u for u in units if len(u) >= 2]
    values = [v for u in pairable for v in u]
    n = len(values)
    if n < 2:
        return math.nan
    observed = sum(sum((a - b) ** 2 for a in u for b in u) / (len(u) - 1) for u in pairable) / n
    total, total_sq = sum(values), sum(v * v for v in values)
    expected = (2 * n * total_sq - 2 * total * total) / (n * (n - 1))
    if expected <= 0:
        return math.nan
    return 1 - observed / expected
