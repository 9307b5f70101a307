"""Plausible movement and heart-rate models per sport, for the device simulator."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SportProfile:
    sport: str
    speed_mps: float  # typical steady speed of an average amateur
    speed_spread: float  # between-athlete spread of that speed (fraction)
    effort_hr: int  # steady-state heart rate at that speed
    met: float  # metabolic equivalent, for calories
    minutes: tuple[int, int]  # usual duration range
    sample_interval_s: int  # how often the device records a point
    weight: float  # how often users pick this sport


SPORTS: dict[str, SportProfile] = {
    p.sport: p
    for p in (
        SportProfile("running", 2.9, 0.15, 158, 9.8, (20, 70), 1, 5.0),
        SportProfile("cycling", 6.8, 0.15, 138, 7.5, (30, 110), 2, 3.0),
        SportProfile("walking", 1.4, 0.10, 102, 3.5, (20, 80), 2, 3.0),
        SportProfile("hiking", 1.1, 0.15, 118, 6.0, (60, 160), 2, 1.0),
        SportProfile("swimming", 0.8, 0.20, 132, 8.0, (20, 60), 2, 1.0),
        SportProfile("rowing", 3.4, 0.15, 142, 7.0, (20, 60), 2, 1.0),
        SportProfile("other", 1.6, 0.20, 115, 5.0, (20, 60), 2, 0.5),
    )
}

RESTING_HR = 62
# Heart rate follows effort with a time constant of about a minute and a half.
HR_TIME_CONSTANT_S = 90.0


def heart_rate(previous: float, target: float, dt_s: float) -> float:
    """First-order approach of the heart rate towards its target."""
    return target + (previous - target) * math.exp(-dt_s / HR_TIME_CONSTANT_S)


def target_heart_rate(profile: SportProfile, speed_ratio: float, elapsed_s: float) -> float:
    """Steady-state heart rate for a speed relative to the athlete's usual, with cardiac drift."""
    drift = min(12.0, elapsed_s / 300.0)
    return RESTING_HR + (profile.effort_hr - RESTING_HR) * speed_ratio + drift


def calories(profile: SportProfile, weight_kg: float, moving_s: float) -> float:
    return round(profile.met * weight_kg * moving_s / 3600.0, 1)
