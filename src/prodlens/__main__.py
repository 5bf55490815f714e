from prodlens.cli import main

main()
