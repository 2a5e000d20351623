"""The response to one recommended song, and its expectation without noise.

For affinity ``a``, song length ``L`` and configuration (see
:class:`~simulator.config.BehaviorConfig`), with ``rho = noise_skip_rate``,
``p = sigmoid(finish_slope * a + finish_bias)``:

* noisy skip ``N ~ Bernoulli(rho)`` (whatever ``a``; logged as a skip, ``true_noise_skip``);
* finish ``F = (1 - N) * Bernoulli(p)``, so ``P(F) = (1 - rho) p`` (the ``true_finish_prob``);
* listen seconds: ``L`` if finished; ``L * max_skip_fraction * sigmoid(a) * U`` on a
  genuine skip; ``L * noise_listen_fraction * U`` on a noisy skip (``U ~ U(0, 1)``);
* like and comment only on a finish, with ``sigmoid(slope * a + bias)``; dislike only on
  a genuine skip, with ``sigmoid(-dislike_slope * a + dislike_bias)``.

Hence the expectations used as ground truth (:func:`expected_response`):

.. math::

    E[\\text{listen}] = L\\Big[(1-\\rho)\\big(p + (1-p)\\tfrac12 m\\,\\sigma(a)\\big)
    + \\rho\\,\\tfrac12 n\\Big],\\quad
    P(\\text{like}) = (1-\\rho)\\,p\\,\\sigma(\\ell_1 a + \\ell_0),\\quad
    P(\\text{dislike}) = (1-\\rho)(1-p)\\,\\sigma(-d_1 a + d_0).

Random numbers come from :class:`~simulator.noise.Noise` keyed by (user, day, session
index, step), so the same step of the same user gets the same numbers in every arm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulator.config import BehaviorConfig
from simulator.noise import KeyedDraws

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


@dataclass(frozen=True)
class Response:
    """One drawn response per row; all arrays ``(B,)``.

    ``noise_skip`` and ``finish_prob`` are ground truth (``true_*`` columns of the log).
    """

    listen_seconds: NDArray[np.float64]
    finish: NDArray[np.bool_]
    skip: NDArray[np.bool_]
    like: NDArray[np.bool_]
    comment: NDArray[np.bool_]
    dislike: NDArray[np.bool_]
    noise_skip: NDArray[np.bool_]
    finish_prob: NDArray[np.float64]


def expected_response(
    affinity: NDArray[np.float64], seconds: NDArray[np.float64], cfg: BehaviorConfig
) -> dict[str, NDArray[np.float64]]:
    """Expected response without noise, elementwise over broadcastable arrays.

    Args:
        affinity: True affinity of each (user, item).
        seconds: Song lengths, broadcastable to ``affinity``.
        cfg: Behaviour parameters.

    Returns:
        ``finish_prob``, ``listen_seconds`` (expected), ``like_prob``, ``comment_prob``,
        ``dislike_prob``, ``skip_prob`` (= 1 - finish_prob).
    """
    a = np.asarray(affinity, dtype=np.float64)
    rho = cfg.noise_skip_rate
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
) -> Response:
    """Draw one response per row with common random numbers.

    Args:
        affinity: ``(B,)`` true affinities.
        seconds: ``(B,)`` song lengths.
        cfg: Behaviour parameters.
        draws: The step's keyed uniforms, e.g. ``noise.draws(user, day, session_index, step)``.

    Returns:
        The drawn :class:`Response`.
    """
    a = np.asarray(affinity, dtype=np.float64)
    rho = cfg.noise_skip_rate
    p = sigmoid(cfg.finish_slope * a + cfg.finish_bias)
    # Four hashes give the step's seven uniforms (pairs of 32-bit halves).
    u_noise, u_finish = draws.uniform_pair("noise_skip/finish")
    u_frac, _ = draws.uniform_pair("listen_fraction")
    u_like, u_comment = draws.uniform_pair("like/comment")
    u_dislike, _ = draws.uniform_pair("dislike")
    noise_skip = u_noise < rho
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
        finish_prob=(1.0 - rho) * p,
    )


__all__ = ["RESPONSE_KEYS", "Response", "draw_response", "expected_response", "sigmoid"]
