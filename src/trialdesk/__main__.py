from trialdesk.cli import main

main()
