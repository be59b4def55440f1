"""dian.search"""
