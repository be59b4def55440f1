"""dian.rtl_templates"""
