#!/usr/bin/env bash
# Run the dashboard on http://localhost:8501. On first run it installs what is needed and loads the
# demo export into data/ (or $KAM_DATA_DIR). Extra arguments go to `kam app` (e.g. --port 8502).
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec "$UV" run --frozen kam app "$@"
