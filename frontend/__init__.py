"""dian.frontend"""
