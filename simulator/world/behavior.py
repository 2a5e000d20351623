"""The response to one recommended song, its expectation, and episodes of noisy skips.

For affinity ``a``, song length ``L`` and configuration (see
:class:`~simulator.config.BehaviorConfig`), with ``p = sigmoid(finish_slope * a +
finish_bias)`` and ``r_u`` user ``u``'s noisy-skip rate
(:attr:`~simulator.world.population.UserTable.noise_rate`, mean ``noise_skip_rate``):

* **noisy skips come in episodes** (a phone call skips whatever plays). A session starts
  undistracted. At an undistracted step an episode starts with the hazard ``h_u``
  (:func:`episode_start_hazard`) and covers that song and the ``G`` next ones,
  ``G ~ Geometric`` on ``{0, 1, ...}`` with ``P(G >= k) = pi^k``, ``pi = 1 - 1/m``, so the
  episode length ``1 + G`` has mean ``m = noise_episode_mean_length`` (``m = 1``: every
  step an independent Bernoulli(``r_u``) draw). Whatever the policy, every song of an
  episode is a noisy skip ``N = 1`` (logged as a skip, ``true_noise_skip``); the session's
  state is the number of songs still to be skipped after the current one
  (``SessionBatch.distraction_left``);
* finish ``F = (1 - N) * Bernoulli(p)``, so given the state ``P(F) = (1 - q) p`` with
  ``q = 1`` while an episode continues and ``q = h_u`` otherwise (``true_finish_prob``);
* listen seconds: ``L`` if finished; ``L * max_skip_fraction * sigmoid(a) * U`` on a
  genuine skip; ``L * noise_listen_fraction * U`` on a noisy skip (``U ~ U(0, 1)``);
* like and comment only on a finish, with ``sigmoid(slope * a + bias)``; dislike only on
  a genuine skip, with ``sigmoid(-dislike_slope * a + dislike_bias)``.

The expectations used as ground truth (:func:`expected_response`) take no session state:
they use the stationary share of noisy steps, ``P(N) = rho`` with ``rho = r_u``:

.. math::

    E[\\text{listen}] = L\\Big[(1-\\rho)\\big(p + (1-p)\\tfrac12 f\\,\\sigma(a)\\big)
    + \\rho\\,\\tfrac12 n\\Big],\\quad
    P(\\text{like}) = (1-\\rho)\\,p\\,\\sigma(\\ell_1 a + \\ell_0),\\quad
    P(\\text{dislike}) = (1-\\rho)(1-p)\\,\\sigma(-d_1 a + d_0),

with ``f = max_skip_fraction`` and ``n = noise_listen_fraction``. (A session starts
undistracted, so its first steps are noisy with probability ``h_u < r_u``; the share
approaches ``r_u`` within a few episode lengths.)

Random numbers come from :class:`~simulator.world.noise.Noise` keyed by (user, day, session
index, step), so the same step of the same user gets the same numbers in every arm; the
episode pattern depends on those numbers alone, never on what was played (common random
numbers across arms, for every step both arms serve).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulator.config import BehaviorConfig
from simulator.world.noise import KeyedDraws

ArrayOrFloat = NDArray[np.float64] | float

RESPONSE_KEYS: tuple[str, ...] = (
    "finish_prob",
    "listen_seconds",
    "like_prob",
    "comment_prob",
    "dislike_prob",
    "skip_prob",
)
"""Keys of :func:`expected_response`."""


def sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Numerically stable logistic function."""
    out: NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))
    return out


def episode_start_hazard(rate: ArrayOrFloat, mean_length: float) -> NDArray[np.float64]:
    """The per-step hazard ``h`` of a distraction episode that gives a stationary share ``r``.

    Undistracted steps and episodes alternate. At an undistracted step an episode starts
    with probability ``h`` (that step is its first song), so the undistracted steps before
    an episode number ``Geometric(h) - 1`` with mean ``(1 - h) / h``; the episode has mean
    length ``m``. By the renewal-reward theorem the long-run share of noisy steps is

    .. math::

        \\frac{m}{m + (1 - h)/h} = \\frac{m h}{m h + 1 - h} = r
        \\iff h = \\frac{r}{m (1 - r) + r},

    which is ``r`` itself for ``m = 1`` (independent draws) and 0 for ``r = 0``.

    Args:
        rate: Stationary noisy shares ``r`` in ``[0, 1]``.
        mean_length: Mean episode length ``m >= 1``.

    Returns:
        ``h``, elementwise (float64).

    Example:
        >>> round(float(episode_start_hazard(0.1, 3.0)), 6)  # 0.1 / 2.8
        0.035714
    """
    r = np.asarray(rate, dtype=np.float64)
    if mean_length == 1.0:
        return r.copy()  # exactly r, not r / ((1 - r) + r) rounded
    out: NDArray[np.float64] = r / (mean_length * (1.0 - r) + r)
    return out


@dataclass(frozen=True)
class Response:
    """One drawn response per row; all arrays ``(B,)``.

    ``noise_skip`` and ``finish_prob`` are ground truth (``true_*`` columns of the log);
    ``distraction_left`` is the session's next state: the songs still to be skipped after
    this one (0: undistracted).
    """

    listen_seconds: NDArray[np.float64]
    finish: NDArray[np.bool_]
    skip: NDArray[np.bool_]
    like: NDArray[np.bool_]
    comment: NDArray[np.bool_]
    dislike: NDArray[np.bool_]
    noise_skip: NDArray[np.bool_]
    finish_prob: NDArray[np.float64]
    distraction_left: NDArray[np.int64]


def expected_response(
    affinity: NDArray[np.float64],
    seconds: NDArray[np.float64],
    cfg: BehaviorConfig,
    noise_rate: ArrayOrFloat | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Expected response without noise, elementwise over broadcastable arrays.

    Args:
        affinity: True affinity of each (user, item).
        seconds: Song lengths, broadcastable to ``affinity``.
        cfg: Behaviour parameters.
        noise_rate: Each row's stationary noisy-skip share ``r_u`` (the user's
            ``noise_rate``), broadcastable to ``affinity``; ``None``: ``noise_skip_rate``.

    Returns:
        ``finish_prob``, ``listen_seconds`` (expected), ``like_prob``, ``comment_prob``,
        ``dislike_prob``, ``skip_prob`` (= 1 - finish_prob).
    """
    a = np.asarray(affinity, dtype=np.float64)
    rho = np.asarray(cfg.noise_skip_rate if noise_rate is None else noise_rate, np.float64)
    p = sigmoid(cfg.finish_slope * a + cfg.finish_bias)
    finish = (1.0 - rho) * p
    skip_fraction = 0.5 * cfg.max_skip_fraction * sigmoid(a)
    listen = np.asarray(seconds) * (
        (1.0 - rho) * (p + (1.0 - p) * skip_fraction) + rho * 0.5 * cfg.noise_listen_fraction
    )
    return {
        "finish_prob": finish,
        "listen_seconds": listen,
        "like_prob": finish * sigmoid(cfg.like_slope * a + cfg.like_bias),
        "comment_prob": finish * sigmoid(cfg.comment_slope * a + cfg.comment_bias),
        "dislike_prob": (1.0 - rho)
        * (1.0 - p)
        * sigmoid(-cfg.dislike_slope * a + cfg.dislike_bias),
        "skip_prob": 1.0 - finish,
    }


def draw_response(
    affinity: NDArray[np.float64],
    seconds: NDArray[np.float64],
    cfg: BehaviorConfig,
    draws: KeyedDraws,
    start_hazard: ArrayOrFloat | None = None,
    distraction_left: NDArray[np.int64] | None = None,
) -> Response:
    """Draw one response per row with common random numbers.

    Args:
        affinity: ``(B,)`` true affinities.
        seconds: ``(B,)`` song lengths.
        cfg: Behaviour parameters.
        draws: The step's keyed uniforms, e.g. ``noise.draws(user, day, session_index, step)``.
        start_hazard: ``(B,)`` episode hazards ``h_u`` of the rows' users
            (:func:`episode_start_hazard` of their ``noise_rate``); ``None``: the hazard of
            ``noise_skip_rate`` for every row.
        distraction_left: ``(B,)`` songs of a running episode still to be skipped (the
            session state before this step); ``None``: every row undistracted.

    Returns:
        The drawn :class:`Response` (with the state after this step).
    """
    a = np.asarray(affinity, dtype=np.float64)
    m = cfg.noise_episode_mean_length
    h = (
        episode_start_hazard(cfg.noise_skip_rate, m)
        if start_hazard is None
        else np.asarray(start_hazard, dtype=np.float64)
    )
    p = sigmoid(cfg.finish_slope * a + cfg.finish_bias)
    # Four hashes give the step's eight uniforms (pairs of 32-bit halves); the low half of
    # "dislike" is the episode length (used only where an episode starts, so it never
    # shares a row with the dislike draw's use on a genuine skip).
    u_noise, u_finish = draws.uniform_pair("noise_skip/finish")
    u_frac, _ = draws.uniform_pair("listen_fraction")
    u_like, u_comment = draws.uniform_pair("like/comment")
    u_dislike, u_length = draws.uniform_pair("dislike")
    if distraction_left is None:
        continuing = np.zeros(a.shape, dtype=np.bool_)
        left = np.zeros(a.shape, dtype=np.int64)
    else:
        left = np.asarray(distraction_left, dtype=np.int64)
        continuing = left > 0
    start = ~continuing & (u_noise < h)
    noise_skip = continuing | start
    if m > 1.0:
        # Inverse cdf of P(G >= k) = pi^k: G = floor(log U / log pi).
        extra = np.floor(np.log(u_length) * (1.0 / np.log1p(-1.0 / m))).astype(np.int64)
        left_after = np.where(start, extra, left - continuing)
    else:
        left_after = left - continuing
    finish = ~noise_skip & (u_finish < p)
    fraction = np.where(
        finish,
        1.0,
        np.where(
            noise_skip,
            cfg.noise_listen_fraction * u_frac,
            cfg.max_skip_fraction * sigmoid(a) * u_frac,
        ),
    )
    like = finish & (u_like < sigmoid(cfg.like_slope * a + cfg.like_bias))
    comment = finish & (u_comment < sigmoid(cfg.comment_slope * a + cfg.comment_bias))
    genuine_skip = ~finish & ~noise_skip
    dislike = genuine_skip & (u_dislike < sigmoid(-cfg.dislike_slope * a + cfg.dislike_bias))
    return Response(
        listen_seconds=np.asarray(seconds, dtype=np.float64) * fraction,
        finish=finish,
        skip=~finish,
        like=like,
        comment=comment,
        dislike=dislike,
        noise_skip=noise_skip,
        # P(finish | state) = (1 - q) p: q = 1 inside an episode, q = h otherwise.
        finish_prob=np.where(continuing, 0.0, (1.0 - h) * p),
        distraction_left=np.asarray(left_after, dtype=np.int64),
    )


__all__ = [
    "RESPONSE_KEYS",
    "Response",
    "draw_response",
    "episode_start_hazard",
    "expected_response",
    "sigmoid",
]
