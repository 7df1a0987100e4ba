"""facejax.morphable decoding against a float64 numpy reference of the same formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import morphable

ATOL_F64 = 1e-9
RTOL_F32 = 2e-5
ATOL_F32_MM = 1e-3  # millimetres, float32 sums of a few components

KI, KE, KA = 5, 4, 3


def _octahedron_model(seed=0, dtype=np.float32):
    """A small closed mesh (octahedron subdivided once) with random bases and 6 landmarks."""
    base = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    faces = np.array(
        [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]]
    )
    rng = np.random.default_rng(seed)
    vertices = base * 80.0 + rng.normal(scale=2.0, size=base.shape)
    num_v = len(vertices)
    return morphable.create_model(
        vertices,
        faces,
        identity_basis=rng.normal(size=(num_v, 3, KI)),
        identity_std=np.linspace(3.0, 1.0, KI),
        expression_basis=rng.normal(size=(num_v, 3, KE)),
        expression_std=np.linspace(2.0, 0.5, KE),
        albedo_mean=rng.uniform(0.3, 0.7, size=(num_v, 3)),
        albedo_basis=rng.normal(scale=0.05, size=(num_v, 3, KA)),
        albedo_std=np.linspace(1.0, 0.2, KA),
        landmark_triangles=np.arange(6) % 8,
        landmark_barycentric=rng.dirichlet(np.ones(3), size=6),
        name="octahedron",
        dtype=dtype,
    )


def _rot_xyz(angles):
    x, y, z = angles
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _reference_decode(model, p):
    """numpy float64: shape, landmarks, pose, pinhole projection, area-weighted normals, SH."""
    m = {k: np.asarray(v, np.float64) for k, v in vars(model).items() if hasattr(v, "shape")}
    verts = (
        m["mean_shape"]
        + m["identity_basis"] @ (np.asarray(p.identity) * m["identity_std"])
        + m["expression_basis"] @ (np.asarray(p.expression) * m["expression_std"])
    )
    tris = np.asarray(model.triangles)
    rot = _rot_xyz(np.asarray(p.rotation, np.float64))
    cam = verts @ rot.T + np.asarray(p.translation)
    f, c = np.asarray(p.camera.focal), np.asarray(p.camera.principal_point)
    screen = np.stack(
        [c[0] + f[0] * cam[:, 0] / -cam[:, 2], c[1] - f[1] * cam[:, 1] / -cam[:, 2], -cam[:, 2]], -1
    )
    normals = np.zeros_like(verts)
    for a, b, d in tris:
        n = np.cross(verts[b] - verts[a], verts[d] - verts[a])  # |n| = 2 * area
        for i in (a, b, d):
            normals[i] += n
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    normals = normals @ rot.T
    alb = m["albedo_mean"] + m["albedo_basis"] @ (np.asarray(p.albedo) * m["albedo_std"])
    x, y, z = normals.T
    basis = np.stack(
        [np.full_like(x, 0.282095), 0.488603 * y, 0.488603 * z, 0.488603 * x,
         1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1), 1.092548 * x * z,
         0.546274 * (x * x - y * y)], -1,
    )  # fmt: skip
    lambert = np.array([1, 2 / 3, 2 / 3, 2 / 3, 0.25, 0.25, 0.25, 0.25, 0.25])
    colors = alb * ((basis * lambert) @ np.asarray(p.sh_coeffs))
    corners = tris[np.asarray(model.landmark_triangles)]
    bary = m["landmark_barycentric"]
    lmk = lambda a: np.einsum("lk,lkc->lc", bary, a[corners])  # noqa: E731
    return dict(vertices=verts, camera_vertices=cam, screen_vertices=screen, normals=normals,
                albedo=alb, colors=colors, landmarks_3d=lmk(cam),
                landmarks_2d=lmk(screen))  # fmt: skip


def _params(model, seed):
    return morphable.random_params(model, jax.random.key(seed), scale=1.0)


def test_decode_matches_numpy_reference_float64(x64):
    model = _octahedron_model(dtype=np.float64)
    params = _params(model, 1)
    face = jax.jit(morphable.decode)(model, params)
    ref = _reference_decode(model, params)
    for name, expected in ref.items():
        # 1e-6 relative: the SH constants of the reference are printed to 6 digits.
        tol = 1e-6 if name == "colors" else ATOL_F64
        np.testing.assert_allclose(getattr(face, name), expected, rtol=tol, atol=tol, err_msg=name)
    assert face.vertices.dtype == jnp.float64


def test_decode_float32_close_to_float64_reference():
    model = _octahedron_model()
    params = _params(model, 2)
    face = jax.jit(morphable.decode)(model, params)
    assert face.vertices.dtype == jnp.float32
    ref = _reference_decode(model, params)
    np.testing.assert_allclose(face.vertices, ref["vertices"], atol=ATOL_F32_MM)
    np.testing.assert_allclose(
        face.screen_vertices, ref["screen_vertices"], rtol=RTOL_F32, atol=1e-3
    )


def test_shape_units_of_standard_deviation(x64):
    model = _octahedron_model(dtype=np.float64)
    unit = jnp.zeros(KI).at[0].set(1.0)
    offset = morphable.shape(model, unit) - model.mean_shape
    np.testing.assert_allclose(
        offset, model.identity_basis[..., 0] * model.identity_std[0], atol=ATOL_F64
    )
    np.testing.assert_allclose(
        morphable.shape(model, jnp.zeros(KI)), model.mean_shape, atol=ATOL_F64
    )


def test_linear_offset_against_reference_with_gradients_and_vmap(x64):
    """The basis product (a [3V, K] matrix product inside) against the float64 formula, its
    gradients numerically, and under jax.vmap against a loop."""
    rng = np.random.default_rng(7)
    basis = jnp.asarray(rng.normal(size=(6, 3, KI)))
    std = jnp.asarray(np.linspace(3.0, 1.0, KI))
    coeffs = jnp.asarray(rng.normal(size=(4, KI)))
    expected = np.einsum(
        "vck,bk->bvc", np.asarray(basis), np.asarray(coeffs) * np.asarray(std)[None]
    )
    mapped = jax.vmap(morphable.linear_offset, in_axes=(None, None, 0))(basis, std, coeffs)
    np.testing.assert_allclose(mapped, expected, rtol=0, atol=ATOL_F64)
    for i in range(len(coeffs)):
        single = morphable.linear_offset(basis, std, coeffs[i])
        np.testing.assert_allclose(single, expected[i], rtol=0, atol=ATOL_F64)
    check_grads(morphable.linear_offset, (basis, std, coeffs[0]), order=2, modes=["fwd", "rev"])


@pytest.mark.parametrize(
    "basis_shape, coeffs_shape", [((6, 3), (5,)), ((6, 3, 4), (5,)), ((6, 3, 5), (2, 5))]
)
def test_linear_offset_names_the_shapes_it_cannot_multiply(basis_shape, coeffs_shape):
    with pytest.raises(ValueError, match=r"basis must be \[V, 3, K\] and coeffs \[K\]"):
        morphable.linear_offset(jnp.ones(basis_shape), jnp.ones(5), jnp.ones(coeffs_shape))


def test_vmap_equals_loop():
    model = _octahedron_model()
    keys = jax.random.split(jax.random.key(3), 4)
    params = jax.vmap(lambda k: morphable.random_params(model, k))(keys)
    batched = jax.jit(jax.vmap(morphable.decode, in_axes=(None, 0)))(model, params)
    decode = jax.jit(lambda key: morphable.decode(model, morphable.random_params(model, key)))
    for i, key in enumerate(keys):
        single = decode(key)
        np.testing.assert_allclose(batched.colors[i], single.colors, rtol=RTOL_F32, atol=1e-6)
        np.testing.assert_allclose(batched.landmarks_2d[i], single.landmarks_2d, rtol=RTOL_F32)


def test_decode_batch_equals_vmap_of_decode_with_its_gradients(x64):
    model = _octahedron_model(dtype=np.float64)
    keys = jax.random.split(jax.random.key(5), 3)
    params = jax.vmap(lambda k: morphable.random_params(model, k, scale=1.0))(keys)
    mapped = jax.jit(jax.vmap(morphable.decode, in_axes=(None, 0)))(model, params)
    batched = jax.jit(morphable.decode_batch)(model, params)
    for name in ("vertices", "camera_vertices", "screen_vertices", "normals", "colors"):
        np.testing.assert_allclose(
            getattr(batched, name), getattr(mapped, name), rtol=0, atol=ATOL_F64, err_msg=name
        )

    def loss(decode, identity):
        face = decode(model, params.replace(identity=identity))
        return jnp.sum(face.colors**2) + 1e-4 * jnp.sum(face.landmarks_2d[..., :2] ** 2)

    vmapped = jax.vmap(morphable.decode, in_axes=(None, 0))
    grad_batch = jax.grad(lambda i: loss(morphable.decode_batch, i))(params.identity)
    grad_vmap = jax.grad(lambda i: loss(vmapped, i))(params.identity)
    np.testing.assert_allclose(grad_batch, grad_vmap, rtol=0, atol=ATOL_F64)


def test_gradients_of_projected_landmarks_and_colors(x64):
    model = _octahedron_model(dtype=np.float64)
    params = _params(model, 4)

    @jax.jit
    def loss(identity, expression, rotation, translation, sh):
        p = params.replace(identity=identity, expression=expression, rotation=rotation,
                           translation=translation, sh_coeffs=sh)  # fmt: skip
        face = morphable.decode(model, p)
        return jnp.sum(face.landmarks_2d[:, :2] ** 2) * 1e-4 + jnp.sum(face.colors**2)

    args = (
        params.identity,
        params.expression,
        params.rotation,
        params.translation,
        params.sh_coeffs,
    )
    check_grads(loss, args, order=1, modes=["rev"], atol=1e-5, rtol=1e-5)


def test_landmarks_are_barycentric_on_any_array(x64):
    model = _octahedron_model(dtype=np.float64)
    values = jnp.arange(6 * 2, dtype=jnp.float64).reshape(6, 2)
    got = morphable.landmarks(model, values)
    corners = np.asarray(model.triangles)[np.asarray(model.landmark_triangles)]
    expected = np.einsum("lk,lkc->lc", model.landmark_barycentric, np.asarray(values)[corners])
    np.testing.assert_allclose(got, expected, atol=ATOL_F64)


def test_landmarks_without_definition_is_a_clear_error():
    model = _octahedron_model()
    bare = model.replace(landmark_triangles=model.landmark_triangles[:0],
                         landmark_barycentric=model.landmark_barycentric[:0])  # fmt: skip
    with pytest.raises(ValueError, match="defines no landmarks"):
        morphable.landmarks(bare, model.mean_shape)


def test_composite_shape_linear_default_and_custom_decoder(x64):
    model = _octahedron_model(dtype=np.float64)
    identity, residual = jnp.linspace(-1, 1, KI), jnp.linspace(1, -1, KE)
    face, identity_face = morphable.composite_shape(model, identity, residual)
    np.testing.assert_allclose(face, morphable.shape(model, identity, residual), atol=ATOL_F64)
    np.testing.assert_allclose(identity_face, morphable.shape(model, identity), atol=ATOL_F64)

    weights = jnp.ones((2, model.num_vertices, 3))
    decoder = lambda z: jnp.einsum("k,kvc->vc", z, weights)  # noqa: E731
    face, identity_face = morphable.composite_shape(
        model, identity, jnp.array([1.0, 2.0]), None, decoder
    )
    np.testing.assert_allclose(
        face - identity_face, 3.0 * np.ones((model.num_vertices, 3)), atol=ATOL_F64
    )


def test_truncate_keeps_leading_components_and_rejects_too_many():
    model = _octahedron_model()
    small = morphable.truncate(model, identity=2, expression=0)
    assert (small.num_identity, small.num_expression, small.num_albedo) == (2, 0, KA)
    np.testing.assert_array_equal(small.identity_basis, model.identity_basis[..., :2])
    full = morphable.shape(model, jnp.array([0.5, -1.0, 0, 0, 0]), jnp.zeros(KE))
    np.testing.assert_allclose(morphable.shape(small, jnp.array([0.5, -1.0])), full, atol=1e-5)
    with pytest.raises(ValueError, match="cannot keep 9 identity"):
        morphable.truncate(model, identity=9)


def test_prior_terms_are_half_squared_norms():
    params = morphable.neutral_params(_octahedron_model()).replace(
        identity=jnp.array([1.0, 2, 0, 0, 0])
    )
    terms = morphable.prior_terms(params)
    np.testing.assert_allclose(terms["identity"], 2.5)
    np.testing.assert_allclose(terms["expression"], 0.0)


def test_model_passes_through_jit_without_retracing():
    """Arrays are leaves, not static: a model with other values reuses the compiled function."""
    model = _octahedron_model()
    params = morphable.neutral_params(model)
    traces = []

    @jax.jit
    def fn(model, params):
        traces.append(1)
        return morphable.decode(model, params)

    fn(model, params)
    fn(model.replace(mean_shape=model.mean_shape + 1.0), params)
    assert len(traces) == 1
