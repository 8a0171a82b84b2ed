from services.inference.server import main

# Guarded: extra worker processes are spawned, and spawn imports the parent's main module.
if __name__ == "__main__":
    main()
