from shopaug.cli import main

main()
