"""dian.sim"""
