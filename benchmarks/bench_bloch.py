"""Benchmark: one Bloch step (hard-pulse rotation + free precession with relaxation) for 100,000
isochromats with medlib.mri, against a naive per-isochromat Python loop timed in the same run.

    python benchmarks/bench_bloch.py            # prints the timings and the ratio

Not a test: the CPU is shared, so the numbers depend on the machine's load (printed at the end).
The budget of the MRI issue is 2 ms per step for 1e5 isochromats.
"""
from __future__ import annotations

import math
import os
import statistics
import time

import numpy as np

from medlib import mri

N = 100_000            # isochromats for medlib
N_NAIVE = 2_000        # isochromats for the naive loop (then extrapolated linearly to N)
STEPS = 400            # steps per timed simulation
REPEATS = 7
BUDGET_MS = 2.0
FLIP_DEG, TAU_MS = 30.0, 5.0


def tissue(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(300.0, 2000.0, n), rng.uniform(30.0, 150.0, n),
            rng.uniform(0.6, 1.0, n), rng.normal(0.0, 40.0, n))


def medlib_per_step_ms(t1, t2, m0, df) -> list[float]:
    """Per-step time inside bloch_simulate: a sequence of STEPS x (pulse, free precession)."""
    events = [mri.pulse(FLIP_DEG), mri.free(TAU_MS)] * STEPS
    mri.bloch_simulate(events[:10], t1, t2, m0=m0, off_resonance_hz=df)      # warm-up
    out = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        mri.bloch_simulate(events, t1, t2, m0=m0, off_resonance_hz=df)
        out.append((time.perf_counter() - start) / STEPS * 1e3)
    return out


def medlib_single_call_ms(t1, t2, m0, df) -> list[float]:
    """One call for a single (pulse, free) step: includes validation and the exp/cos/sin setup."""
    events = [mri.pulse(FLIP_DEG), mri.free(TAU_MS)]
    out = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        mri.bloch_simulate(events, t1, t2, m0=m0, off_resonance_hz=df)
        out.append((time.perf_counter() - start) * 1e3)
    return out


def naive_step(m, t1, t2, m0, df):
    """What one writes first: loop over isochromats, a 3x3 rotation and the relaxation each."""
    a = math.radians(FLIP_DEG)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(a), math.sin(a)],
                   [0.0, -math.sin(a), math.cos(a)]])
    for i in range(m.shape[1]):
        v = rx @ m[:, i]
        phi = 2 * math.pi * df[i] * TAU_MS * 1e-3
        c, s = math.cos(phi), math.sin(phi)
        e1, e2 = math.exp(-TAU_MS / t1[i]), math.exp(-TAU_MS / t2[i])
        m[0, i] = e2 * (c * v[0] + s * v[1])
        m[1, i] = e2 * (c * v[1] - s * v[0])
        m[2, i] = e1 * v[2] + m0[i] * (1 - e1)
    return m


def naive_per_step_ms() -> tuple[list[float], np.ndarray]:
    t1, t2, m0, df = tissue(N_NAIVE)
    out = []
    m = np.zeros((3, N_NAIVE))
    m[2] = m0
    for _ in range(3):
        start = time.perf_counter()
        naive_step(m, t1, t2, m0, df)
        out.append((time.perf_counter() - start) * 1e3 * N / N_NAIVE)
    return out, m


def main() -> None:
    t1, t2, m0, df = tissue(N)
    # The two implementations agree (checked on the naive loop's isochromats, three steps).
    _, m_naive = naive_per_step_ms()
    t1n, t2n, m0n, dfn = tissue(N_NAIVE)
    ref = mri.bloch_simulate([mri.pulse(FLIP_DEG), mri.free(TAU_MS)] * 3, t1n, t2n, m0=m0n,
                             off_resonance_hz=dfn).m
    err = float(np.max(np.abs(ref - m_naive)))

    per_step = medlib_per_step_ms(t1, t2, m0, df)
    single = medlib_single_call_ms(t1, t2, m0, df)
    naive, _ = naive_per_step_ms()
    fast, slow = statistics.median(per_step), statistics.median(naive)

    print(f"Bloch step (hard pulse + free precession with T1/T2/off-resonance), {N:,} isochromats")
    print(f"  medlib.mri.bloch_simulate, per step in a {STEPS}-step sequence: "
          f"median {fast:.3f} ms (min {min(per_step):.3f}, max {max(per_step):.3f})")
    print(f"  medlib, one call for a single step (validation + exp/cos/sin set-up): "
          f"median {statistics.median(single):.3f} ms")
    print(f"  naive per-isochromat Python loop ({N_NAIVE:,} isochromats, extrapolated to "
          f"{N:,}): median {slow:.0f} ms")
    print(f"  speed-up: {slow / fast:.0f}x;  max |difference| after 3 steps: {err:.1e}")
    verdict = "within" if fast <= BUDGET_MS else "OVER"
    print(f"  budget {BUDGET_MS} ms per step: {verdict} ({fast:.3f} ms)")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"  machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / "
          f"{load[2]:.2f} (1/5/15 min); numpy {np.__version__}")


if __name__ == "__main__":
    main()
