"""dian.hwgen"""
