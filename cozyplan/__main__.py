from cozyplan.cli import run

run()
