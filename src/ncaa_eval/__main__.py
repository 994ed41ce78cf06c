"""``python -m ncaa_eval`` runs the CLI."""

from ncaa_eval.cli.main import main

if __name__ == "__main__":
    main()
