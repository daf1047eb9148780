from bqmanage.cli import run

run()
