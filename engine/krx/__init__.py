"""KRX market rules: codes, the tick grid and daily limits, trading costs, the sim universe."""
