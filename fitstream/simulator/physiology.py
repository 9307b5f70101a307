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


# -- sessions with an intensity (the athlete model, fitstream/simulator/athlete.py) -----

INTENSITIES = ("easy", "moderate", "hard")
# A session's steady heart rate as a share of the athlete's heart-rate reserve
# (resting + share * (max - resting)). For a typical athlete (resting 59, max 183) this
# puts easy sessions near 126 bpm, moderate near 149 and hard near 170: the bands of
# fitstream/domain/workout_kind.py (< 140, < 160, else hard) with room for drift.
INTENSITY_HRR: dict[str, float] = {"easy": 0.55, "moderate": 0.74, "hard": 0.91}
# Walking and hiking sessions are always easy, with a lower heart rate than easy running.
EASY_ONLY_HRR: dict[str, float] = {"walking": 0.38, "hiking": 0.5}
# Running speed as a share of the athlete's threshold speed, per intensity.
RUNNING_SPEED_FRACTION: dict[str, float] = {"easy": 0.76, "moderate": 0.86, "hard": 0.95}
# Other sports: speed relative to the athlete's usual speed in that sport.
OTHER_SPEED_FRACTION: dict[str, float] = {"easy": 0.92, "moderate": 1.0, "hard": 1.08}
# How much of a session's TRIMP trains the (running) fitness the plan is about.
LOAD_TRANSFER: dict[str, float] = {"running": 1.0, "rowing": 0.8, "cycling": 0.7,
                                   "swimming": 0.6, "hiking": 0.5, "other": 0.5,
                                   "walking": 0.3}
# Cardiac drift: +1 bpm per 7.5 minutes, at most 8 bpm.
DRIFT_BPM_PER_S = 1 / 450.0
MAX_DRIFT_BPM = 8.0


def session_heart_rate(steady_hr: float, resting_hr: float, speed_ratio: float,
                       elapsed_s: float) -> float:
    """Target heart rate of a sample: the session's steady heart rate, moved with the
    speed's wobble around the session's speed, plus cardiac drift."""
    drift = min(MAX_DRIFT_BPM, elapsed_s * DRIFT_BPM_PER_S)
    return steady_hr + (steady_hr - resting_hr) * (speed_ratio - 1.0) + drift
