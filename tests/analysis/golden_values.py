"""Hand calculations of the published formulas that the analysis tests use as golden values.

Run: ``.venv/bin/python tests/analysis/golden_values.py``. Standard-library means and
variances, scipy only for t quantiles; no code from ``analysis``.
"""

from __future__ import annotations

import math
import statistics as st

from scipy.stats import t

CONTROL = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]
TREATMENT = [2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 16]
X_CONTROL = [2, 1, 4, 3, 6, 5, 8, 9, 7, 10]
X_TREATMENT = [1, 4, 4, 7, 6, 10, 9, 13, 12, 16, 14]


def main() -> None:
    c, tr = CONTROL, TREATMENT
    mc, mt = st.mean(c), st.mean(tr)
    vc, vt = st.variance(c), st.variance(tr)
    nc, nt = len(c), len(tr)

    # Log-scale delta method (tea-tasting metrics/mean.py): Var(log m) ~ v / (n m^2).
    a = vc / (nc * mc * mc)
    b = vt / (nt * mt * mt)
    se = math.sqrt(a + b)
    df = (a + b) ** 2 / (a * a / (nc - 1) + b * b / (nt - 1))
    q = t.ppf(0.975, df)
    print("log_delta", repr(mt / mc * math.exp(-q * se) - 1), repr(mt / mc * math.exp(q * se) - 1))

    # Fieller, q from the Welch df of the absolute difference.
    va, vb = vt / nt, vc / nc
    dfa = (va + vb) ** 2 / (va * va / (nt - 1) + vb * vb / (nc - 1))
    q = t.ppf(0.975, dfa)
    den = mc * mc - q * q * vb
    disc = va * mc * mc + vb * mt * mt - q * q * va * vb
    lo = (mt * mc - q * math.sqrt(disc)) / den - 1
    hi = (mt * mc + q * math.sqrt(disc)) / den - 1
    print("fieller", repr(float(lo)), repr(float(hi)))

    # CUPED, one covariate, theta on both arms pooled, centred at the pooled covariate mean.
    xs, ys = X_CONTROL + X_TREATMENT, c + tr
    mx, my = st.mean(xs), st.mean(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (len(xs) - 1)
    theta = cov / st.variance(xs)
    yc = [y - theta * (x - mx) for x, y in zip(X_CONTROL, c, strict=True)]
    yt = [y - theta * (x - mx) for x, y in zip(X_TREATMENT, tr, strict=True)]
    d = st.mean(yt) - st.mean(yc)
    se = math.sqrt(st.variance(yc) / nc + st.variance(yt) / nt)
    print("cuped", repr(theta), repr(st.mean(yc)), repr(st.mean(yt)), repr(d), repr(se))


if __name__ == "__main__":
    main()
