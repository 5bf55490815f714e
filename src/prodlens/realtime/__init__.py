"""The live feed: `/api/v1/ws`, its broker (memory or Redis) and the publishing side."""
