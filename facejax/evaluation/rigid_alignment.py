"""Similarity alignment for scan benchmarks: from corresponding landmarks, and by ICP to a surface.

A transform is ``(s, R, t)``, acting as ``x -> s R x + t`` on ``[..., 3]`` points
(:func:`apply_similarity`). Host-side numpy in float64: a benchmark aligns one mesh to one scan
at a time, and millimetre coordinates of a few hundred need float64 to keep sub-micrometre
residuals. :func:`similarity_from_landmarks` is the float64 numpy form of
:func:`facejax.geometry.procrustes` (same formula, reflections excluded; a test checks they
agree), which stays the JAX one to differentiate through.
"""

import numpy as np

from facejax.evaluation.point_to_mesh import point_to_mesh_distances

# Iterative closest point: stop when the mean squared distance decreases by less than this
# fraction in one step (on a 1 mm RMS, a change of 5 nm), or after this many steps.
ICP_TOLERANCE = 1e-5
ICP_ITERATIONS = 50

# Levenberg-Marquardt damping of the ICP steps: scan-to-mesh residuals are not small (a few mm
# that no motion removes), where undamped Gauss-Newton overshoots (on an offset sphere, until
# the damping is ~1e3x larger). Raised 10x after a step that does not lower the cost, lowered
# 3x after one that does; after this many rejected steps in a row (damping up 1e6x) the cost
# is taken as minimal: each try costs a distance evaluation.
LM_INITIAL_DAMPING = 1e-3
LM_MIN_DAMPING = 1e-7
LM_MAX_REJECTED = 6


def apply_similarity(points, s, R, t) -> np.ndarray:
    """``s R x + t`` for each point ``x``.

    Args:
      points: ``[..., 3]`` points.
      s: scale.
      R: ``[3, 3]`` rotation.
      t: ``[3]`` translation.

    Returns:
      ``[..., 3]`` float64 moved points.
    """
    points = np.asarray(points, dtype=np.float64)
    return float(s) * points @ np.asarray(R, dtype=np.float64).T + np.asarray(t, np.float64)


def similarity_from_landmarks(
    source, target, *, scale: bool = True, weights=None
) -> tuple[float, np.ndarray, np.ndarray]:
    """The similarity that best maps ``source`` onto ``target`` in least squares (Umeyama 1991).

    Minimises ``sum_i w_i |s R source_i + t - target_i|^2`` over ``s > 0`` (``s = 1`` with
    ``scale=False``), rotations (``det R = +1``) and translations, in closed form: with
    weighted centroids and ``C = sum_i w_i (target_i - mu_t)(source_i - mu_s)^T = U D V^T``,
    ``R = U diag(1, 1, d) V^T`` with ``d = sign(det U det V)``, ``s = tr(D diag(1, 1, d)) /
    sum_i w_i |source_i - mu_s|^2`` and ``t = mu_t - s R mu_s``.

    Args:
      source: ``[N, 3]`` points to move (e.g. a prediction's landmarks), ``N >= 3``, not
        collinear.
      target: ``[N, 3]`` corresponding points (e.g. the scan's landmarks).
      scale: estimate the scale; ``False`` for the best rigid motion.
      weights: optional ``[N]`` non-negative weights, not all zero.

    Returns:
      ``(s, R [3, 3], t [3])``, float64.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.ndim != 2 or source.shape[1] != 3 or source.shape[0] < 3:
        raise ValueError(
            f"similarity_from_landmarks: source must have shape [N, 3], N >= 3, got {source.shape}"
        )
    if target.shape != source.shape:
        raise ValueError(
            f"similarity_from_landmarks: target must have the shape of source {source.shape}, "
            f"got {target.shape}"
        )
    if not (np.all(np.isfinite(source)) and np.all(np.isfinite(target))):
        raise ValueError("similarity_from_landmarks: points must be finite")
    if weights is None:
        w = np.full(source.shape[0], 1.0 / source.shape[0])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != source.shape[:1] or np.any(w < 0) or not np.any(w > 0):
            raise ValueError(
                "similarity_from_landmarks: weights must be [N] non-negative, not all zero"
            )
        w = w / np.sum(w)
    mu_s, mu_t = w @ source, w @ target
    cs, ct = source - mu_s, target - mu_t
    u, singular, vt = np.linalg.svd((ct * w[:, None]).T @ cs)
    signs = np.array([1.0, 1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    R = (u * signs) @ vt
    if scale:
        variance = float(w @ np.sum(cs**2, axis=1))
        if variance <= 0:
            raise ValueError("similarity_from_landmarks: source points all coincide")
        s = float(singular @ signs) / variance
    else:
        s = 1.0
    return s, R, mu_t - s * R @ mu_s


def _rotation_from_vector(omega) -> np.ndarray:
    """Rodrigues' formula: the rotation by ``|omega|`` radians about ``omega``."""
    angle = float(np.linalg.norm(omega))
    if angle < 1e-300:
        return np.eye(3)
    k = omega / angle
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle) * K + (1.0 - np.cos(angle)) * (K @ K)


def icp_to_mesh(
    points,
    vertices,
    triangles,
    *,
    scale: bool = True,
    initial: tuple | None = None,
    iterations: int = ICP_ITERATIONS,
    tol: float = ICP_TOLERANCE,
) -> tuple[float, np.ndarray, np.ndarray]:
    """The similarity that moves the **mesh** onto the fixed ``points``, minimising the mean
    squared point-to-surface distance ``(1/P) sum_i dist(points_i, s R mesh + t)^2``.

    The mesh moves (not the points) because with a scale the reverse problem is degenerate:
    points shrunk onto one spot of a fixed surface have distance zero. This is the refinement
    of the NoW evaluation (scan fixed, prediction moved, scan-to-mesh distance) and of MICC
    Florence ICP with scale.

    Each step is Levenberg-Marquardt on the squared distances: ``dist_i`` changes to first
    order by ``-n_i . delta(q_i)`` when the closest point ``q_i`` moves, with ``n_i`` the unit
    vector from ``q_i`` to the point (for a face-interior ``q_i``, the face normal: point-to-plane
    ICP), over an update ``q -> (1 + sigma) Rot(omega) (q - mean q) + mean q + tau``. A step
    that does not lower the cost is retried with more damping; the cost never rises. Stops when
    an accepted step lowers the cost by less than ``tol`` (relative), after 6 rejected steps in
    a row, when no point is left off the surface, or after ``iterations`` distance evaluations.

    Args:
      points: ``[P, 3]`` fixed points (e.g. the cropped scan's vertices).
      vertices: ``[V, 3]`` mesh vertices, moved.
      triangles: ``[T, 3]`` int mesh triangles.
      scale: estimate a scale (``False``: rigid, for metrical evaluation).
      initial: ``(s, R, t)`` to start from (e.g. the landmark alignment); identity if ``None``.
      iterations: most distance evaluations.
      tol: relative decrease of the cost below which to stop.

    Returns:
      ``(s, R [3, 3], t [3])``: ``apply_similarity(vertices, s, R, t)`` is the aligned mesh.
    """
    points = np.asarray(points, dtype=np.float64)
    vertices = np.asarray(vertices, dtype=np.float64)
    if initial is None:
        s, R, t = 1.0, np.eye(3), np.zeros(3)
    else:
        s, R, t = float(initial[0]), np.asarray(initial[1], float), np.asarray(initial[2], float)
    distances, closest = point_to_mesh_distances(
        points, apply_similarity(vertices, s, R, t), triangles
    )
    cost = float(np.mean(distances**2))
    damping, rejected = LM_INITIAL_DAMPING, 0
    for _ in range(iterations):
        candidate = _levenberg_marquardt_step(points, distances, closest, s, R, t, scale, damping)
        if candidate is None or rejected == LM_MAX_REJECTED:
            break
        d_new, q_new = point_to_mesh_distances(
            points, apply_similarity(vertices, *candidate), triangles
        )
        new_cost = float(np.mean(d_new**2))
        if new_cost >= cost:
            damping, rejected = damping * 10.0, rejected + 1
            continue
        decrease = (cost - new_cost) / cost
        (s, R, t), distances, closest, cost = candidate, d_new, q_new, new_cost
        damping, rejected = max(damping / 3.0, LM_MIN_DAMPING), 0
        if decrease < tol:
            break
    return s, R, t


def _levenberg_marquardt_step(points, distances, closest, s, R, t, scale: bool, damping: float):
    """One damped Gauss-Newton update of ``(s, R, t)`` for the squared point-to-surface
    distances: ``(J^T J + damping diag(J^T J)) delta = J^T d``; ``None`` when fewer than 7
    points are off the surface (nothing left to fit)."""
    keep = distances > 1e-12 * max(1.0, float(np.max(np.abs(points))))
    if np.count_nonzero(keep) < 7:
        return None
    centre = closest[keep].mean(axis=0)
    y = closest[keep] - centre
    n = (points[keep] - closest[keep]) / distances[keep, None]
    # d_i(new) ~ d_i - n_i . (sigma y_i + omega x y_i + tau); n . (omega x y) = omega . (y x n).
    columns = [np.cross(y, n), n]
    if scale:
        columns.insert(0, np.sum(n * y, axis=1, keepdims=True))
    jacobian = np.concatenate(columns, axis=1)
    normal = jacobian.T @ jacobian
    normal += damping * np.diag(np.diag(normal)) + 1e-12 * np.trace(normal) * np.eye(len(normal))
    delta = np.linalg.solve(normal, jacobian.T @ distances[keep])
    sigma = max(float(delta[0]), -0.5) if scale else 0.0
    omega, tau = delta[-6:-3], delta[-3:]
    rotation = _rotation_from_vector(omega)
    grow = 1.0 + sigma
    return grow * s, rotation @ R, grow * rotation @ (t - centre) + centre + tau
