#!/bin/sh
# Writes NAME.out for every NAME.in here: the handout's program's stdout on
# that stdin. The tests compare fetchadd's with these files; they never run
# Python. Run it with the reference program (Python 3.11) when an input
# changes:  sh testdata/golden/regen.sh path/to/fetadd.py
#
# Python reads stdin as UTF-8 with surrogateescape (its choice under the C
# and C.UTF-8 locales), so a line that is not valid UTF-8 is one line that
# int() refuses, as in fetchadd.
set -eu
ref=${1:?usage: regen.sh path/to/fetadd.py}
cd "$(dirname "$0")"
for in in *.in; do
	PYTHONIOENCODING=utf-8:surrogateescape python3 "$ref" <"$in" >"${in%.in}.out"
done
