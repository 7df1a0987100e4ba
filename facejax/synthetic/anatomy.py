"""Where the parts of the synthetic face are: the measurements every other module builds on.

Millimetres, model frame of docs/conventions.md: origin midway between the ears (the ear plane
is ``z = 0``, the ear canals are at ``y = 0``), x to the subject's left, y up, z out of the face.
Values are those of an average adult (anthropometric means rounded to the millimetre; Farkas,
"Anthropometry of the Head and Face", 1994): head 150 mm wide and 230 mm from chin to crown,
interpupillary distance 64 mm, mouth 50 mm wide, nose tip 100 mm in front of the ear plane.

Paired features are given for the subject's LEFT side (``x > 0``); the right side is the mirror
image. Functions of the face are written in ``|x|`` so that the mean face is exactly symmetric.
"""

from __future__ import annotations

# Head envelope.
CROWN_Y = 128.0  # vertex of the head
MENTON_Y = -101.0  # lowest point of the chin
HEAD_HALF_WIDTH = 75.0

# Eyes (left eye; the right one is mirrored).
EYE_CENTER = (32.0, 15.6)  # the pupil, looking ahead; the lids cover the iris' top and bottom
EYE_INNER_CANTHUS = (17.5, 14.8)
EYE_OUTER_CANTHUS = (46.5, 17.2)
EYE_UPPER_LID_HEIGHT = 4.9  # highest point of the upper lid above the canthal line
EYE_LOWER_LID_DEPTH = 4.6  # lowest point of the lower lid below the canthal line
EYEBALL_RADIUS = 12.0
CORNEA_APEX_Z = 72.0
IRIS_RADIUS = 5.8
PUPIL_RADIUS = 2.0

# Brows: a curve from the inner to the outer end (x, y) on the left side.
BROW_POINTS = ((14.0, 35.0), (22.0, 38.5), (31.0, 40.5), (40.0, 40.0), (50.0, 36.5))
BROW_HALF_THICKNESS = 3.2

# Nose, on the midline unless paired.
NASION = (0.0, 22.0)
NOSE_TIP_Y = -20.0
NOSE_TIP_Z = 100.0
SUBNASALE_Y = -31.0
ALA = (15.5, -25.0)  # centre of the left nasal wing
NOSTRIL = (6.8, -28.6)

# Mouth.
MOUTH_Y = -55.0  # the lip line (stomion) of the closed mouth
MOUTH_CORNER_X = 25.0
UPPER_VERMILION_Y = -47.0  # labrale superius (dip of the cupid's bow)
CUPID_PEAK = (6.0, -45.8)
LOWER_VERMILION_Y = -65.5  # labrale inferius

# Ears (left ear, seen from the side): centre (y, z), half height and width, backward tilt.
EAR_CENTER = (8.0, -14.0)
EAR_HALF_SIZE = (31.0, 15.5)
EAR_TILT_DEG = 12.0

# Chin and jaw.
CHIN_Y = -86.0  # pogonion height
GONION = (51.0, -68.0, 8.0)  # angle of the jaw
JAW_PIVOT = (0.0, -4.0, 10.0)  # temporomandibular joints' axis (a line along x)

# The face region (face_mask): an oval in the frontal (x, y) plane, in front of the ears.
FACE_OVAL_CENTER_Y = -8.0
FACE_OVAL_HALF_WIDTH = 66.0
FACE_OVAL_HALF_HEIGHT = 98.0
FACE_MIN_Z = 15.0
