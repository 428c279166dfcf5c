#!/bin/sh
# Build the dashboard's styles and scripts into dashboard/static/ (served at /assets): `make assets` runs this.
#
# Reproducible: `npm ci` installs exactly the versions in package-lock.json (govuk-frontend 5.14.0, sass);
# no CDN is used at run time. What is copied from govuk-frontend:
#   - govuk-frontend.min.js (an ES module; the layout imports it and calls initAll());
#   - its assets/ folder WITHOUT fonts/ (GDS Transport is for GOV.UK only) and WITHOUT the crown, crest and
#     GOV.UK icons and manifest (GOV.UK's brand): in 5.14 that leaves nothing, but a neutral asset a later
#     version adds would be copied.
# The CSS is compiled from dampwatch.scss with Arial.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
static=$(cd "$here/.." && pwd)/static
work="$static.building"

if ! command -v npm >/dev/null 2>&1; then
  echo "build.sh: npm is not installed; install Node.js 18 or later with npm (make system does)" >&2
  exit 1
fi

cd "$here"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
rm -rf "$work"
mkdir -p "$work"
npx --no-install sass --load-path=node_modules --quiet-deps --style=compressed --no-source-map \
  dampwatch.scss "$work/dampwatch.css"

govuk=node_modules/govuk-frontend/dist/govuk
cp "$govuk/govuk-frontend.min.js" "$govuk/govuk-frontend.min.js.map" "$work/"
(cd "$govuk/assets" && find . -type f \
  ! -path './fonts/*' ! -path './rebrand/*' ! -name 'govuk-*' ! -name 'favicon.*' ! -name 'manifest.json' \
  -exec sh -c 'mkdir -p "$0/$(dirname "$1")" && cp "$1" "$0/$1"' "$work" {} \;)
cp dampwatch-icon.svg "$work/dampwatch-icon.svg"
# uPlot (MIT; pinned in package-lock.json): the interactive charts' library, and our own script that draws them.
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css "$work/"
cp node_modules/uplot/LICENSE "$work/uPlot.LICENSE"
cp charts.js "$work/charts.js"
node -e 'const p = require("govuk-frontend/package.json"); console.log(`govuk-frontend ${p.version}`)' \
  > "$work/VERSION"

if grep -q "GDS Transport" "$work/dampwatch.css" || [ -d "$work/fonts" ]; then
  echo "build.sh: the build contains GDS Transport; it must not ship" >&2
  exit 1
fi

rm -rf "$static"
mv "$work" "$static"
echo "built $(cat "$static/VERSION") with Arial into $static"
