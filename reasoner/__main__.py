from reasoner.cli import main

main()
