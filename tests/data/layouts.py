"""Tiny copies of the benchmarks in their real layouts, written for the builder tests
(tests/data/test_builder_*.py) and for ``facejax evaluate --benchmark NAME --workdir RUN``
(tests/cli/test_evaluate_benchmark.py), which runs a trained model on the builders' crops of
them and scores its predictions against them.

Tests import it relatively (``from .layouts import ...``, ``from ..data.layouts import ...``):
pytest's importlib mode names test modules after their folders.
"""

import os

import numpy as np
from PIL import Image


def write_image(path, size=(40, 40), seed=0, fmt=None):
    """Writes a noise image (width, height) and returns it as a uint8 array."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt, quality=95)
    return pixels


def write_corrupt(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 this is not a JPEG")


def project_3ddfa(points_um, pose_params, height):
    """3DDFA projection (``s R X + t``, y up) of BFM points into 1-based MATLAB pixels
    ``[3, N]``: x, the row ``height + 1 - y``, and the depth ``z``."""
    from facejax.geometry import rotation_from_euler

    rotation = np.asarray(rotation_from_euler(pose_params[:3], "3ddfa"), dtype=np.float64)
    xyz = pose_params[6] * points_um @ rotation.T + pose_params[3:6]
    return np.stack([xyz[:, 0], height + 1 - xyz[:, 1], xyz[:, 2]])


def cap_mesh(nx, ny, *, width, height, top, curvature, counter_clockwise=True):
    """A cap ``z = top - (x^2 + y^2) / curvature`` over a ``width x height`` grid of
    ``nx x ny`` vertices (x right, y up, row-major), two triangles per cell.

    Returns:
      ``([nx * ny, 3]`` float64 vertices, ``[F, 3]`` int64 triangles, counter-clockwise seen
      from +z unless ``counter_clockwise=False``).
    """
    x, y = np.meshgrid(
        np.linspace(-width / 2, width / 2, nx), np.linspace(-height / 2, height / 2, ny)
    )
    z = top - (x**2 + y**2) / curvature
    k = (np.arange(ny - 1)[:, None] * nx + np.arange(nx - 1)[None, :]).reshape(-1)
    triangles = np.concatenate(
        [np.stack([k, k + 1, k + nx], 1), np.stack([k + 1, k + nx + 1, k + nx], 1)]
    )
    if not counter_clockwise:
        triangles = triangles[:, ::-1]
    return np.stack([x, y, z], -1).reshape(-1, 3), triangles


def face_cap(n=30):
    """A face-sized cap (mm, z out), its triangles, and 7 NoW landmarks on it."""
    vertices, triangles = cap_mesh(
        n, n, width=160, height=200, top=60, curvature=300, counter_clockwise=False
    )
    xy = np.array([[-45, 30], [-15, 30], [15, 30], [45, 30], [0, -10], [-25, -35], [25, -35]])
    landmarks = np.column_stack([xy, 60 - (xy**2).sum(1) / 300]).astype(np.float64)
    return vertices, triangles, landmarks


def cap_landmarks_68(vertices):
    """68 landmarks on scan vertices, the nose tip (iBUG index 30) at the cap's top."""
    picked = np.linspace(0, len(vertices) - 1, 68).astype(int)
    picked[30] = int(np.argmax(vertices[:, 2]))
    return vertices[picked]


# AFLW2000-3D: image0XXXX.jpg/.mat (pt3d_68 [3, 68]). image00002 and image00004 are whole;
# image00006 has 60 landmarks, image00008 a corrupt image, image00010 no .mat.
AFLW2000_SIZE = 40
AFLW2000_STEMS = ["image00002", "image00004", "image00006", "image00008"]


def aflw2000_points(seed):
    return np.random.default_rng(seed).uniform(-5e4, 5e4, size=(68, 3))


def aflw2000_pose(seed):
    t = np.random.default_rng(seed + 50).uniform(18, 22, size=3)
    return np.concatenate([[-0.2, -0.6, 0.1], t, [2e-4]])


def write_aflw2000(root):
    """AFLW2000-3D's folder (``root``, e.g. ``manual/AFLW2000``)."""
    import scipy.io

    size = AFLW2000_SIZE
    for seed, stem in enumerate(AFLW2000_STEMS):
        write_image(root / f"{stem}.jpg", (size, size), seed)
        pt3d = project_3ddfa(aflw2000_points(seed), aflw2000_pose(seed), size)
        if stem == "image00006":
            pt3d = pt3d[:, :60]  # landmarks missing: skipped
        scipy.io.savemat(
            root / f"{stem}.mat",
            {
                "pt3d_68": pt3d,
                "Pose_Para": aflw2000_pose(seed)[None, :],
                "Shape_Para": np.zeros((199, 1)),
                "Exp_Para": np.zeros((29, 1)),
                "Tex_Para": np.zeros((199, 1)),
                "Illum_Para": np.zeros((1, 10)),
                "Color_Para": np.zeros((1, 7)),
                "roi": np.zeros((1, 4)),
                "pt2d": -np.ones((2, 21)),
            },
        )
    write_corrupt(root / "image00008.jpg")  # corrupt image: skipped
    write_image(root / "image00010.jpg", (size, size), 9)  # no .mat: skipped
    return root


# NoW: final_release_version/{iphone_pictures, detected_face (pickled dict .npy), scans,
# scans_lmks_onlypp (.pp XML)} and the image lists. The third validation image's box file
# is refused (it would run code if unpickled naively); S3 (test split) has no scan.
NOW_S1, NOW_S2, NOW_S3 = "FaMoS_180424_03335_TA", "FaMoS_180427_03338_TA", "FaMoS_180502_03341_TA"
NOW_VALIDATION = [
    f"{NOW_S1}/multiview_neutral/IMG_0101.jpg",
    f"{NOW_S1}/selfie/IMG_0102.jpg",
    f"{NOW_S2}/multiview_expressions/IMG_0200.jpg",
]
NOW_TEST = [f"{NOW_S3}/multiview_occlusions/IMG_0300.jpg"]
NOW_BOX = {"left": np.int64(10), "top": 8.0, "right": 30.0, "bottom": 34.0}
NOW_POINTS = face_cap()[2]  # the scans' 7 landmarks


def now_picked_points(points):
    """A MeshLab ``.pp`` file's text."""
    rows = "\n".join(
        f' <point x="{x}" y="{y}" z="{z}" active="1" name="{i}"/>'
        for i, (x, y, z) in enumerate(points)
    )
    return (
        "<!DOCTYPE PickedPoints>\n<PickedPoints>\n <DocumentData>\n"
        '  <DateTime time="10:00:00" date="2018-05-01"/>\n  <User name="x"/>\n'
        '  <DataFileName name="natural_head_rotation.000001.obj"/>\n  <templateName name=""/>\n'
        f" </DocumentData>\n{rows}\n</PickedPoints>\n"
    )


def write_now(manual):
    """``manual/NoW_Dataset/...``; returns its ``final_release_version`` folder."""
    from facejax.formats import write_obj

    top = manual / "NoW_Dataset"
    root = top / "final_release_version"
    for i, line in enumerate(NOW_VALIDATION + NOW_TEST):
        write_image(root / "iphone_pictures" / line, (40, 44), i)
        box = root / "detected_face" / line.replace(".jpg", ".npy")
        os.makedirs(box.parent, exist_ok=True)
        np.save(box, NOW_BOX, allow_pickle=True)
    np.save(
        root / "detected_face" / NOW_VALIDATION[2].replace(".jpg", ".npy"),
        np.array(os.getcwd, dtype=object),
        allow_pickle=True,
    )
    vertices, triangles, _ = face_cap()
    for subject in (NOW_S1, NOW_S2):
        (root / "scans" / subject).mkdir(parents=True)
        scan = root / "scans" / subject / "natural_head_rotation.000001.obj"
        write_obj(scan, vertices, triangles)
        (root / "scans_lmks_onlypp" / subject).mkdir(parents=True)
        pp = root / "scans_lmks_onlypp" / subject / "natural_head_rotation_picked_points.pp"
        pp.write_text(now_picked_points(NOW_POINTS))
    (top / "imagepathsvalidation.txt").write_text("\n".join(NOW_VALIDATION) + "\n")
    (root / "imagepathstest.txt").write_text("\n".join(NOW_TEST) + "\n")
    return root


# MICC Florence: subject_XX/Model/frontal1/obj/*.obj (with its 68 landmarks beside it as .npy),
# subject_XX/Video/<setting>.mjpg with extracted frames folders beside the videos.
MICC_WIDTH, MICC_HEIGHT = 64, 36  # frames wider than tall, like the videos
MICC_BOX = (20.0, 5.0, 40.0, 30.0)


def write_micc(root):
    """MICC Florence's folder (``root``: the subject_XX folders)."""
    from facejax.formats import write_obj

    vertices, triangles, _ = face_cap()
    size = (MICC_WIDTH, MICC_HEIGHT)
    s1 = root / "subject_01"
    (s1 / "Model" / "frontal1" / "obj").mkdir(parents=True)
    write_obj(s1 / "Model" / "frontal1" / "obj" / "110920150452.obj", vertices, triangles)
    np.save(s1 / "Model" / "frontal1" / "obj" / "110920150452.npy", cap_landmarks_68(vertices))
    (s1 / "Video").mkdir(parents=True)
    for setting in ("Indoor-Cooperative", "PTZ-Indoor"):
        (s1 / "Video" / f"{setting}.mjpg").write_bytes(b"not decoded")
    for n in range(1, 5):
        write_image(s1 / "Video" / "Indoor-Cooperative" / f"frame_{n:05d}.jpg", size, n)
    (s1 / "Video" / "Indoor-Cooperative" / "frame_00003.box.txt").write_text("20 5 40 30")
    write_image(s1 / "Video" / "PTZ-Indoor" / "frame_00001.jpg", size, 9)
    write_corrupt(s1 / "Video" / "PTZ-Indoor" / "frame_00002.jpg")
    s2 = root / "subject_02"
    (s2 / "Model" / "frontal2" / "obj").mkdir(parents=True)
    write_obj(s2 / "Model" / "frontal2" / "obj" / "scan.obj", vertices, triangles)
    np.save(s2 / "Model" / "frontal2" / "obj" / "scan.npy", cap_landmarks_68(vertices))
    for n in (1, 2):
        write_image(s2 / "Video" / "Indoor-Cooperative" / f"frame_{n:05d}.jpg", size, n)
    return root


# YouTube Faces: frame_images_DB/<subject>/<video>/<video>.<frame>.jpg,
# <subject>.labeled_faces.txt (backslash paths, box centre and size) and splits.txt.
YTF_SIZE = 48
YTF_FRAMES = {  # subject -> video -> frame numbers; 0.557.jpg is corrupt
    "Aaron_Eckhart": {"0": [555, 556, 557, 558, 559], "1": [10, 9]},
    "Zach_Zorn": {"3": [1, 2]},
}
YTF_SPLITS = """split number, first name, second name, first name num, is same
1, Aaron_Eckhart/0, Aaron_Eckhart/1, 0.5, 1
2, Aaron_Eckhart/1, Zach_Zorn/3, 0.9, 0
"""


def ytf_box(frame):
    cx, cy, size = 20 + frame % 5, 22, 18 + frame % 3
    return (cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2)


def _ytf_box_line(subject, video, frame):
    cx, cy, size = 20 + frame % 5, 22, 18 + frame % 3
    return f"{subject}\\{video}\\{video}.{frame}.jpg,0,{cx},{cy},{size},{size},0.0,1"


def write_youtube_faces(root, splits=YTF_SPLITS):
    """YouTube Faces' folder (``root``, e.g. ``manual/YouTubeFaces``)."""
    db = root / "frame_images_DB"
    for subject, videos in YTF_FRAMES.items():
        lines = []
        for video, frames in videos.items():
            for frame in frames:
                write_image(db / subject / video / f"{video}.{frame}.jpg", (YTF_SIZE,) * 2, frame)
                lines.append(_ytf_box_line(subject, video, frame))
        (db / f"{subject}.labeled_faces.txt").write_text("\n".join(lines) + "\n")
    write_corrupt(db / "Aaron_Eckhart" / "0" / "0.557.jpg")
    (root / "splits.txt").write_text(splits)
    return root
