"""Drawn cartoon faces whose visible features follow CelebA-style attributes: the stand-in for real faces.

`sample_attributes` draws one face's attributes (consistent with each other: a bald face has no hair colour, only
men have beards, ...) and `draw_face` draws a 178×218 picture of them, the size of CelebA's aligned images, so that
the stand-in is cropped and shrunk exactly like the real thing. Drawn: Smiling, Eyeglasses, Male (short hair),
hair colour (Black/Blond/Brown/Gray_Hair), Bald, Bangs, No_Beard, Goatee, Mustache, 5_o_Clock_Shadow,
Mouth_Slightly_Open, Wearing_Lipstick, Pale_Skin, Rosy_Cheeks, Wearing_Earrings, Wearing_Hat, Wearing_Necktie,
Narrow_Eyes, Blurry; any other attribute is a fair coin per face. `course_lib.celeba` writes these faces in
CelebA's file layouts (`make_standin_celeba`, `make_standin_mirror`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CANVAS = (178, 218)  # (width, height): CelebA's aligned images
# Attributes the stand-in draws, and how often each is true; every other attribute is a fair coin per face.
RATES = {"Male": 0.45, "Smiling": 0.5, "Eyeglasses": 0.3, "Wearing_Hat": 0.1, "Bangs": 0.2,
         "Mouth_Slightly_Open": 0.3, "Wearing_Lipstick": 0.4, "Pale_Skin": 0.15, "Rosy_Cheeks": 0.15,
         "Wearing_Earrings": 0.2, "Wearing_Necktie": 0.1, "Narrow_Eyes": 0.1, "Blurry": 0.05}
HAIR_COLOURS = {"Black_Hair": (25, 20, 18), "Blond_Hair": (226, 196, 120), "Brown_Hair": (110, 70, 40),
                "Gray_Hair": (165, 165, 165), None: (150, 60, 30)}


def sample_attributes(rng: np.random.Generator, names: Sequence[str]) -> dict[str, bool]:
    """One face's attributes, a dict over `names` (which must include every attribute that RATES and the drawing
    use), consistent with each other: a bald face has no hair colour, only men wear beards, and so on."""
    a = {name: bool(rng.random() < RATES.get(name, 0.5)) for name in names}
    male = a["Male"]
    a["Bald"] = male and rng.random() < 0.1
    hair = None if a["Bald"] else rng.choice(["Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "other"],
                                             p=[0.3, 0.25, 0.25, 0.1, 0.1])
    for colour in ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"):
        a[colour] = hair == colour
    beard = male and rng.random() < 0.4
    a["No_Beard"] = not beard
    a["Goatee"] = beard and rng.random() < 0.4
    a["Mustache"] = beard and rng.random() < 0.5
    a["5_o_Clock_Shadow"] = male and not beard and rng.random() < 0.3
    a["Wearing_Lipstick"] = a["Wearing_Lipstick"] and not male
    a["Bangs"] = a["Bangs"] and not a["Bald"]
    return a


def draw_face(a: dict[str, bool], rng: np.random.Generator) -> Image.Image:
    """A CANVAS-sized (178×218) RGB cartoon face whose visible features follow the attributes `a`."""
    height = CANVAS[1]
    background = tuple(int(v) for v in rng.integers(60, 230, size=3))
    image = Image.new("RGB", CANVAS, background)
    draw = ImageDraw.Draw(image)
    cx, cy, s = 89 + rng.normal(0, 2.5), 124 + rng.normal(0, 2.5), rng.uniform(0.93, 1.07)

    def box(x0, y0, x1, y1):  # coordinates relative to the face centre, in units of a 1.0-scale face
        return [cx + s * x0, cy + s * y0, cx + s * x1, cy + s * y1]

    tone = rng.uniform(0.85, 1.0) if a["Pale_Skin"] else rng.uniform(0.35, 0.8)
    skin = tuple(int(c * tone) for c in (255, 214, 182))
    hair = HAIR_COLOURS[next((c for c in HAIR_COLOURS if c and a[c]), None)]
    if not a["Bald"]:
        draw.ellipse(box(-52, -68, 52, 40), fill=hair)
        if not a["Male"]:  # long hair down to the shoulders
            draw.rectangle(box(-52, -10, 52, 90), fill=hair)
    draw.rectangle(box(-16, 40, 16, 100), fill=skin)  # neck
    draw.ellipse(box(-42, -55, 42, 55), fill=skin)
    if a["Bangs"]:
        draw.chord(box(-44, -62, 44, -8), 180, 360, fill=hair)
    shadow = tuple(int(c * 0.55) for c in skin)
    if not a["No_Beard"]:
        draw.chord(box(-42, -20, 42, 55), 0, 180, fill=tuple(int(c * 0.8) for c in hair))
    elif a["5_o_Clock_Shadow"]:
        draw.chord(box(-40, -15, 40, 53), 20, 160, fill=tuple(int(c * 0.85) for c in skin))
    eye_h = 2.5 if a["Narrow_Eyes"] else 5
    for ex in (-19, 19):
        draw.ellipse(box(ex - 8, -12 - eye_h, ex + 8, -12 + eye_h), fill=(245, 245, 245))
        draw.ellipse(box(ex - 3.5, -12 - min(eye_h, 3.5), ex + 3.5, -12 + min(eye_h, 3.5)), fill=(40, 30, 30))
        draw.line(box(ex - 9, -24, ex + 9, -24), fill=shadow, width=3)  # eyebrow
        if a["Rosy_Cheeks"]:
            draw.ellipse(box(ex * 1.25 - 7, 8, ex * 1.25 + 7, 18), fill=(230, 120, 130))
        if a["Wearing_Earrings"]:
            draw.ellipse(box(ex * 2.3 - 3, 10, ex * 2.3 + 3, 16), fill=(250, 210, 40))
    if a["Eyeglasses"]:
        for ex in (-19, 19):
            draw.rectangle(box(ex - 14, -22, ex + 14, -3), outline=(15, 15, 15), width=max(3, round(4 * s)))
        draw.line(box(-5, -14, 5, -14), fill=(15, 15, 15), width=3)
    draw.line(box(0, -8, -4, 10), fill=shadow, width=2)  # nose
    draw.line(box(-4, 10, 3, 10), fill=shadow, width=2)
    lips = (200, 30, 50) if a["Wearing_Lipstick"] else tuple(int(c * 0.6) for c in (230, 120, 120))
    if a["Mustache"]:
        draw.rectangle(box(-16, 16, 16, 22), fill=tuple(int(c * 0.7) for c in hair))
    if a["Mouth_Slightly_Open"]:
        draw.ellipse(box(-9, 25, 9, 37), fill=(60, 15, 20), outline=lips, width=2)
    if a["Smiling"]:  # a wide upward curve with teeth
        draw.chord(box(-20, 14, 20, 40), 0, 180, fill=(250, 250, 250), outline=lips, width=3)
    elif not a["Mouth_Slightly_Open"]:
        draw.line(box(-13, 30, 13, 30), fill=lips, width=4)
    if a["Goatee"]:
        draw.ellipse(box(-8, 40, 8, 52), fill=tuple(int(c * 0.7) for c in hair))
    if a["Wearing_Hat"]:
        colour = tuple(int(v) for v in rng.integers(0, 255, size=3))
        draw.rectangle(box(-55, -50, 55, -40), fill=colour)
        draw.chord(box(-42, -85, 42, -15), 180, 360, fill=colour)
    if a["Wearing_Necktie"]:
        draw.polygon([(cx, cy + s * 62), (cx - 7 * s, cy + s * 72), (cx, height), (cx + 7 * s, cy + s * 72)],
                     fill=(30, 40, 140))
    if a["Blurry"]:
        image = image.filter(ImageFilter.GaussianBlur(2.5))
    return image


def draw_faces(n: int, names: Sequence[str], *, seed: int = 0):
    """Yield `n` (attributes, image) pairs, the same ones for the same `seed` (attributes: a dict over `names`)."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        a = sample_attributes(rng, names)
        yield a, draw_face(a, rng)
