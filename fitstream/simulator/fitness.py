"""Banister's impulse-response model of fitness and fatigue (pure, hidden simulator state).

Every day's training load ``w`` (TRIMP, see :func:`trimp`) adds an impulse to two
first-order systems that decay with different time constants:

    fitness_t = fitness_{t-1} * exp(-1 / tau_fitness) + w_t      (tau_fitness = 42 d)
    fatigue_t = fatigue_{t-1} * exp(-1 / tau_fatigue) + w_t      (tau_fatigue = 7 d)
    performance_t = k_fitness * fitness_t - k_fatigue * fatigue_t (k = 1 and 2)

Fatigue responds faster and decays faster than fitness, so a hard block first lowers
performance and raises it once the fatigue has gone (the point of a taper). The athlete
turns performance into speed and heart rate (fitstream/simulator/athlete.py); nothing
here ever reaches an event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def trimp(minutes: float, hrr_fraction: float, male: bool = True) -> float:
    """Banister's training impulse of a session: minutes x HRR fraction x weighting.

    ``hrr_fraction`` is the session's heart rate as a share of the heart-rate reserve
    (0 at rest, 1 at maximum); the exponential weighting (0.64 e^{1.92 x} for men,
    0.86 e^{1.67 x} for women) makes hard minutes count more than easy ones.
    """
    x = min(1.0, max(0.0, hrr_fraction))
    weight = 0.64 * math.exp(1.92 * x) if male else 0.86 * math.exp(1.67 * x)
    return max(0.0, minutes) * x * weight


@dataclass(frozen=True)
class BanisterModel:
    """The model's constants; the defaults are the textbook ones."""

    tau_fitness_days: float = 42.0
    tau_fatigue_days: float = 7.0
    k_fitness: float = 1.0
    k_fatigue: float = 2.0

    def steady_state(self, daily_load: float) -> FitnessState:
        """The state a constant daily load converges to (a geometric series)."""
        return FitnessState(daily_load / (1 - math.exp(-1 / self.tau_fitness_days)),
                            daily_load / (1 - math.exp(-1 / self.tau_fatigue_days)))

    def performance(self, state: FitnessState) -> float:
        return self.k_fitness * state.fitness - self.k_fatigue * state.fatigue


@dataclass(frozen=True, slots=True)
class FitnessState:
    """Fitness and fatigue at the end of a day (TRIMP units)."""

    fitness: float = 0.0
    fatigue: float = 0.0

    def next_day(self, model: BanisterModel, load: float) -> FitnessState:
        """The state one day later, after that day's load."""
        return FitnessState(
            self.fitness * math.exp(-1 / model.tau_fitness_days) + load,
            self.fatigue * math.exp(-1 / model.tau_fatigue_days) + load,
        )
