print("orchestratord: not yet implemented")
