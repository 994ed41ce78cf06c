"""``python -m ncaa_eval.tuning REQUEST_JSON WORKER_INDEX DEADLINE``: a worker process of
``ncaa-eval tune --workers K`` (see :func:`ncaa_eval.tuning.worker.main`)."""

import sys

from ncaa_eval.tuning.worker import main

sys.exit(main())
