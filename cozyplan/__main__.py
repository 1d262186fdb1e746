from cozyplan.cli import main

main()
