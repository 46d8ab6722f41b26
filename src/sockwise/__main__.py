"""``python -m sockwise`` runs the command-line interface."""

from sockwise.cli import main

if __name__ == "__main__":
    main()
