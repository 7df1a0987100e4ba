"""The shape of the synthetic head: an implicit surface, and rays cast onto it.

The head is the region where :func:`head_inside` is positive. It is the smooth union of a few
primitives (the cranium, the lower head around the jaw, the neck, the ears), with the face in
front: a height field ``z = face_depth(|x|, y)`` built from a midline profile, a lateral
fall-off and anatomical features (brows, eye sockets with eyeballs and lids, nose, cheekbones,
lips, chin).
Values are millimetres in the model frame (see :mod:`facejax.synthetic.anatomy`). Everything is
float64 numpy and runs once, when the model is built.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from facejax.synthetic import anatomy as A


def _spline(xs, ys):
    """A smooth (natural cubic) curve through the points ``(xs, ys)``, in any order of ``xs``."""
    order = np.argsort(xs)
    xs, ys = np.asarray(xs, float)[order], np.asarray(ys, float)[order]
    return CubicSpline(xs, ys, bc_type="natural")


# The midline profile of the face without nose, lips and chin: (y, z). Between the eyes and
# under the nose it is the depth of the cheeks beside the nose, which the nose stands out of.
_PROFILE = _spline(
    [125, 112, 100, 85, 70, 55, 40, 32, 26, 20, 14, 5, -5, -15, -25, -31, -45, -55, -65, -75,
     -86, -95, -102, -108, -116, -130],
    [5, 45, 65, 78, 85, 88, 88.5, 87, 83, 77.5, 74.5, 74.5, 76, 78, 80, 81, 81, 80, 79, 77,
     77.5, 74, 66, 52, 32, 0],
)  # fmt: skip
# How fast the face recedes sideways: z drops by c2 x^2 + c4 x^4 (per mm^2, mm^4).
_LATERAL_Y = [120, 100, 70, 40, 20, 0, -20, -40, -55, -70, -86, -100, -120]
_C2 = _spline(
    _LATERAL_Y,
    [0.016, 0.012, 0.0075, 0.0062, 0.0055, 0.0062, 0.008, 0.013, 0.017, 0.018, 0.02, 0.022, 0.024],
)
_C4 = _spline(
    _LATERAL_Y, [4e-6, 3e-6, 1.2e-6, 1.2e-6, 1.2e-6, 1.6e-6, 1.8e-6, 2e-6, 2.2e-6, 2.5e-6, 3e-6,
                 4e-6, 5e-6],
)  # fmt: skip
# The nose: the height of its ridge (dorsum) on the midline and its half-width, by height y.
_NOSE_Y = [34, 28, 22, 14, 6, -2, -10, -16, -20, -23, -26, -29, -31, -33]
_NOSE_DORSUM = _spline(
    _NOSE_Y, [88.5, 86.5, 84.5, 86, 88.5, 91.5, 95, 98.5, 100, 99.5, 97, 91, 84.5, 81]
)
_NOSE_HALF_WIDTH = _spline(_NOSE_Y, [16, 12, 9.5, 8.5, 9, 10, 11, 12, 12.5, 13, 13.5, 14, 14.5, 15])


def smooth_max(a, b, k):
    """Polynomial smooth maximum of ``a`` and ``b`` with blend width ``k`` (Quilez, 2013)."""
    h = np.clip(0.5 + 0.5 * (a - b) / k, 0.0, 1.0)
    return b + (a - b) * h + k * h * (1.0 - h)


def smooth_min(a, b, k):
    return -smooth_max(-a, -b, k)


def smoothstep(edge0, edge1, x):
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def gaussian(ax, y, cx, cy, sx, sy):
    """An axis-aligned 2D Gaussian bump of height 1 at ``(cx, cy)``."""
    return np.exp(-0.5 * (((ax - cx) / sx) ** 2 + ((y - cy) / sy) ** 2))


def ellipsoid_inside(p, center, radii):
    """Approximate depth inside an ellipsoid (mm, positive inside), ``p``: ``[..., 3]``."""
    q = [(p[..., k] - center[k]) / radii[k] for k in range(3)]
    k0 = np.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2)
    k1 = np.sqrt((q[0] / radii[0]) ** 2 + (q[1] / radii[1]) ** 2 + (q[2] / radii[2]) ** 2)
    return -k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def eye_fissure(ax):
    """Upper and lower lid curves of the (left) eye at ``|x| = ax``, and the fraction along it.

    Returns:
      ``(t, y_upper, y_lower)``: ``t`` runs from 0 at the inner canthus to 1 at the outer one;
      the lid heights are valid for ``0 <= t <= 1``.
    """
    (xi, yi), (xo, yo) = A.EYE_INNER_CANTHUS, A.EYE_OUTER_CANTHUS
    t = (ax - xi) / (xo - xi)
    tc = np.clip(t, 0.0, 1.0)
    line = yi + (yo - yi) * tc
    # The upper lid peaks slightly nasally of the pupil, the lower lid slightly temporally.
    upper = line + A.EYE_UPPER_LID_HEIGHT * np.sin(np.pi * tc**0.87) ** 0.85
    lower = line - A.EYE_LOWER_LID_DEPTH * np.sin(np.pi * tc**1.16) ** 0.9
    return t, upper, lower


def eye_opening(ax, y, softness=0.35):
    """1 inside the palpebral fissure (the visible eyeball), 0 on the lids; smooth edge."""
    t, upper, lower = eye_fissure(ax)
    width = A.EYE_OUTER_CANTHUS[0] - A.EYE_INNER_CANTHUS[0]
    inside = np.minimum(np.minimum(upper - y, y - lower), np.minimum(t, 1.0 - t) * width)
    return smoothstep(-softness, softness, inside)


def eyeball_center():
    x, y = A.EYE_CENTER
    return np.array([x, y, A.CORNEA_APEX_Z - A.EYEBALL_RADIUS - 1.2])


def _eye_surface(ax, y, skin):
    """The face around the (left) eye: the eyeball behind the lids, merged with the socket."""
    c = eyeball_center()
    r2 = (ax - c[0]) ** 2 + (y - c[1]) ** 2
    ball = c[2] + np.sqrt(np.maximum(A.EYEBALL_RADIUS**2 - r2, 0.0))
    ball = np.where(r2 < A.EYEBALL_RADIUS**2, ball, -1e3)
    cornea = 1.2 * np.clip(1.0 - r2 / (A.IRIS_RADIUS + 0.8) ** 2, 0.0, 1.0) ** 1.5
    lids = ball + 1.6 * (1.0 - eye_opening(ax, y))
    # Lid margins are not visible on the inner, lower side; the lids hug the ball (+cornea).
    return smooth_max(skin, np.maximum(lids, ball + cornea), 1.2)


def upper_vermilion_y(ax):
    """Height of the upper lip's vermilion border (the cupid's bow) at ``|x| = ax``."""
    px, py = A.CUPID_PEAK
    inner = A.UPPER_VERMILION_Y + (py - A.UPPER_VERMILION_Y) * np.clip(ax / px, 0, 1) ** 2
    outer = py + (A.MOUTH_Y - py) * np.clip((ax - px) / (A.MOUTH_CORNER_X - px), 0, 1) ** 1.5
    return np.where(ax < px, inner, outer)


def lower_vermilion_y(ax):
    """Height of the lower lip's vermilion border at ``|x| = ax``."""
    u = np.clip(ax / A.MOUTH_CORNER_X, 0.0, 1.0)
    return A.MOUTH_Y + (A.LOWER_VERMILION_Y - A.MOUTH_Y) * (1.0 - u**2.2) ** 0.8


def _lips(ax, y):
    """Protrusion of the lips over the base profile, with the crease of the lip line."""
    s = y - A.MOUTH_Y
    amp = np.exp(-((ax / (0.9 * A.MOUTH_CORNER_X)) ** 6))
    # Upper lip: most forward at the vermilion border, the skin above sloping back to the nose.
    vb = np.maximum(upper_vermilion_y(ax) - A.MOUTH_Y, 2.0)
    su = np.clip(s / vb, 0.0, 1.0)
    upper = 1.0 + 2.8 * np.sin(0.5 * np.pi * su) ** 0.8
    upper = upper * (1.0 - smoothstep(vb, vb + 16.0, s))
    # Lower lip: a fuller roll down to its border, then the labiomental fold.
    t = -s
    lb = np.maximum(A.MOUTH_Y - lower_vermilion_y(ax), 2.0)
    sl = np.clip(1.2 * t / lb, 0.0, 1.0)
    roll = 1.0 + 3.5 * np.sin(0.5 * np.pi * sl) ** 0.7
    below = 4.5 * np.exp(-(((t - lb) / 5.0) ** 2)) - 2.5 * np.exp(-(((t - lb - 9.0) / 4.0) ** 2))
    lower = np.where(t <= lb, roll, below)
    lips = amp * np.where(s >= 0, upper, lower)
    # Corner pits (modiolus) beside the mouth corners.
    return lips - 1.3 * gaussian(ax, y, A.MOUTH_CORNER_X + 1.5, A.MOUTH_Y - 0.3, 2.5, 2.5)


def _nose(ax, y):
    """Protrusion of the nose: bridge, bulbous tip, nasal wings, nostrils."""
    yc = np.clip(y, -33.0, 34.0)
    h = np.maximum(_NOSE_DORSUM(yc) - _PROFILE(yc), 0.0) * smoothstep(34.0, 24.0, y)
    h = h * smoothstep(-34.0, -30.0, y) - 2.0 * gaussian(0, y, 0, A.NOSE_TIP_Y, 1, 5.0)
    u = np.clip(ax / _NOSE_HALF_WIDTH(yc), 0.0, 1.0)
    ridge = h * (1.0 - u**2) ** 2
    tip = 2.0 * gaussian(ax, y, 0.0, A.NOSE_TIP_Y, 6.0, 4.5)
    ax_, ay_ = A.ALA
    ala = 6.5 * gaussian(ax, y, ax_, ay_, 5.0, 4.6)
    r = np.hypot((ax - ax_) / 1.1, y - ay_ - 0.5)
    groove = -1.3 * np.exp(-(((r - 7.0) / 1.4) ** 2)) * (y > ay_ - 5.0)
    nx, ny = A.NOSTRIL
    nostril = -4.0 * gaussian(ax, y, nx, ny, 3.0, 1.6)
    return ridge + tip + ala + groove + nostril


def face_depth(ax, y):
    """The front of the face as a height field: ``z`` at ``(|x|, y)`` (mm).

    Far from the face it falls below the cranium, jaw and neck, which then form the surface.
    """
    yc = np.clip(y, -130.0, 125.0)
    base = _PROFILE(yc) - _C2(yc) * ax**2 - _C4(yc) * ax**4
    base = base - 0.12 * np.maximum(ax - 52.0, 0.0) ** 2
    base = np.where((y > -130.0) & (y < 125.0), base, -1e3)
    # Brow ridge and glabella, cheekbones, temples, chin.
    base = base + 3.2 * gaussian(ax, y, 30.0, 37.0, 15.0, 6.0) + 1.5 * gaussian(ax, y, 0, 33, 9, 6)
    base = base + 4.5 * gaussian(ax, y, 47.0, 1.0, 13.0, 11.0)
    base = base - 3.0 * gaussian(ax, y, 62.0, 34.0, 8.0, 14.0)
    base = base + 3.0 * gaussian(ax, y, 0.0, A.CHIN_Y, 13.0, 8.0)
    # Eye sockets: a hollow that the eyeball and lids fill.
    socket = base - 7.0 * gaussian(ax, y, A.EYE_CENTER[0], A.EYE_CENTER[1] + 1.0, 11.0, 8.5)
    face = _eye_surface(ax, y, socket)
    # Nasolabial fold: a shallow groove from the nasal wing to beside the mouth corner.
    a0, a1 = np.array([17.5, -27.0]), np.array([31.0, -62.0])
    d = a1 - a0
    s = np.clip(((ax - a0[0]) * d[0] + (y - a0[1]) * d[1]) / (d @ d), 0.0, 1.0)
    dist = np.hypot(ax - a0[0] - s * d[0], y - a0[1] - s * d[1])
    face = face - 1.2 * np.exp(-((dist / 2.5) ** 2)) * np.sin(np.pi * s) ** 0.5
    return face + _nose(ax, y) + _lips(ax, y)


def head_inside(p):
    """Implicit head: positive inside, negative outside, roughly millimetres from the surface.

    Args:
      p: ``[..., 3]`` points, model frame, mm.

    Returns:
      ``[...]`` values; the head surface is the zero set.
    """
    z = p[..., 2]
    front = np.minimum(face_depth(np.abs(p[..., 0]), p[..., 1]) - z, z - 5.0)
    # A wider blend along the jaw, where the face meets the lower head at a steep angle.
    return smooth_max(base_inside(p), front, 5.0 + 9.0 * smoothstep(-55.0, -95.0, p[..., 1]))


def base_inside(p):
    """The head without the face: cranium, lower head and neck (positive inside, ~mm)."""
    ax, y, z = np.abs(p[..., 0]), p[..., 1], p[..., 2]
    cranium = ellipsoid_inside(p, (0.0, 32.0, -15.0), (74.0, 97.0, 86.0))
    jaw = ellipsoid_inside(p, (0.0, -38.0, -2.0), (61.0, 58.0, 66.0))
    neck_section = (1.0 - np.hypot(ax / 49.0, (z + 14.0) / 50.0)) * 49.0
    neck = smooth_min(smooth_min(neck_section, y + 172.0, 10.0), -20.0 - y, 5.0)
    head = smooth_max(smooth_max(cranium, jaw, 10.0), neck, 14.0)
    return smooth_max(head, _ear(ax, y, z), 3.0)


def _ear(ax, y, z):
    """The (left) ear: a plate standing off the side of the head, seen as a height field along
    ``x``: a rim (helix) round its border, the antihelix inside it, the bowl of the concha, and
    a lobe. Rays from the origin reach it from the inside, so the back of the ear is filled."""
    cy, cz = A.EAR_CENTER
    tilt = np.radians(A.EAR_TILT_DEG)
    u = np.cos(tilt) * (y - cy) - np.sin(tilt) * (z - cz)  # along the ear, up
    v = np.sin(tilt) * (y - cy) + np.cos(tilt) * (z - cz)  # across, forwards
    half_height, half_width = A.EAR_HALF_SIZE
    lobe = 1.0 - 0.3 * smoothstep(-12.0, -28.0, u)
    d = np.hypot(u / half_height, (v + 1.0) / (half_width * lobe))
    standoff = 3.0 + 12.0 * smoothstep(8.0, -14.0, v)
    back = smoothstep(9.0, -3.0, v) + smoothstep(12.0, 24.0, u)
    rim = 2.6 * np.exp(-(((d - 0.86) / 0.08) ** 2)) * np.clip(back, 0.0, 1.0)
    antihelix = 1.6 * np.exp(-(((d - 0.6) / 0.09) ** 2)) * smoothstep(2.0, -6.0, v)
    concha = 7.0 * np.exp(-0.5 * (((u + 2.0) / 8.0) ** 2 + ((v - 3.0) / 5.5) ** 2))
    outer = 71.0 + standoff + rim + antihelix - concha - 40.0 * smoothstep(0.92, 1.08, d)
    return np.minimum(outer - ax, ax - 50.0)


def _march(directions, inside, t_start, t_stop, step):
    """Brackets ``(inside_t, outside_t)`` of the outermost crossing between the two distances."""
    n = len(directions)
    offsets = np.arange(0.0, np.max(t_start - t_stop) + step, step)
    ts = t_start[:, None] - offsets[None, :]  # [N, T], outside first
    vals = inside(ts[..., None] * directions[:, None, :])
    hit = np.argmax(vals > 0.0, axis=1)
    if np.any(vals[np.arange(n), hit] <= 0.0) or np.any(hit == 0):
        raise ValueError("a ray from the origin does not meet the head where expected")
    return ts[np.arange(n), hit], ts[np.arange(n), hit - 1]


def ray_cast(directions, inside=head_inside, iterations=22):
    """Outermost hit of rays from the origin with the head surface ``inside == 0``.

    The primitives without the face are marched first (cheap, coarse steps); the full function
    only in a window around that hit, where the face can lie (the nose stands about 30 mm
    in front of the cranium).

    Args:
      directions: ``[N, 3]`` unit directions.
      inside: implicit function, positive inside.
      iterations: bisection steps after a 1.5 mm bracket is found.

    Returns:
      ``[N]`` distances ``t`` with ``inside(t * d) ~ 0``.
    """
    directions = np.asarray(directions, dtype=np.float64)
    n = len(directions)
    base_lo, _ = _march(directions, base_inside, np.full(n, 230.0), np.full(n, 10.0), 5.0)
    lo, hi = _march(directions, inside, base_lo + 45.0, np.maximum(base_lo - 16.0, 1.0), 1.5)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        val = inside(mid[:, None] * directions)
        inner = val > 0.0
        lo = np.where(inner, mid, lo)
        hi = np.where(inner, hi, mid)
    return 0.5 * (lo + hi)


def frontal_depth(x, y, inside=head_inside, z_start=130.0, iterations=22):
    """``z`` of the front-most surface point at each ``(x, y)`` (seen from a frontal viewer).

    Args:
      x, y: ``[N]`` coordinates (mm).

    Returns:
      ``[N]`` depths, ``nan`` where no surface lies in front of the ear plane.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    zs = np.arange(z_start, -1.0, -1.5)
    p = np.stack(np.broadcast_arrays(x[:, None], y[:, None], zs[None, :]), axis=-1)
    vals = inside(p)
    hit = np.argmax(vals > 0.0, axis=1)
    found = (vals[np.arange(len(x)), hit] > 0.0) & (hit > 0)
    lo, hi = zs[hit], zs[np.maximum(hit - 1, 0)]
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        inner = inside(np.stack([x, y, mid], axis=-1)) > 0.0
        lo, hi = np.where(inner, mid, lo), np.where(inner, hi, mid)
    return np.where(found, 0.5 * (lo + hi), np.nan)


def surface_normal(p, inside=head_inside, step=0.2):
    """``[N, 3]`` outward unit normals of the implicit surface at ``p`` (finite differences)."""
    grad = np.zeros_like(p)
    for k in range(3):
        e = np.zeros(3)
        e[k] = step
        grad[:, k] = (inside(p - e) - inside(p + e)) / (2.0 * step)
    return grad / np.linalg.norm(grad, axis=-1, keepdims=True)
